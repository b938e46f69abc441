//! Attachments against a real object store (s3s-fs): presigned uploads, their confirmation and
//! every way it is refused, the one-step upload, downloads, permissions, limits, the sweeper,
//! and that no object outlives its attachment.

use std::time::Duration;

use sha2::{Digest, Sha256};
use swatter_common::objects::ObjectStore;
use swatter_issues::config::IssuesConfig;
use swatter_proto::issues::v1 as pb;
use swatter_testkit::{S3Server, Stack, fields};
use tonic::{Code, Status};

use crate::support::{TestApp, User, req};

/// Issues with its own object store, and a client of that store to look at the objects.
struct Files {
    app: TestApp,
    s3: S3Server,
    objects: ObjectStore,
    http: reqwest::Client,
}

impl Files {
    async fn spawn() -> Files {
        Files::spawn_with(|_| {}).await
    }

    async fn spawn_with(customize: impl FnOnce(&mut IssuesConfig) + Send) -> Files {
        let mut stack = Stack::new().issues_with_s3(customize).start().await;
        let issues = stack.issues.take().expect("issues runs");
        let objects = swatter_issues::attachments::Attachments::new(issues.config.attachments)
            .expect("attachment settings")
            .objects;
        let files = Files {
            app: TestApp {
                identity: stack.identity.take().expect("identity runs"),
                issues: issues.client,
                db: issues.db,
                metrics_addr: issues.metrics_addr.expect("metrics are on"),
            },
            s3: stack.s3.take().expect("s3s-fs runs"),
            objects,
            http: reqwest::Client::new(),
        };
        // The sweeper makes the bucket as the service starts.
        eventually("the bucket exists", || async {
            files.objects.head("probe").await.is_ok()
        })
        .await;
        files
    }

    /// An owner with project `key` and its issue `KEY-1`.
    async fn project(&self, key: &str) -> (User, String) {
        let owner = self
            .app
            .user(&format!("{}-owner", key.to_lowercase()))
            .await;
        self.app.create_project(&owner, key).await.unwrap();
        let issue = self.app.create_issue(&owner, key, "Crash").await.unwrap();
        (owner, issue.key)
    }

    async fn request(
        &self,
        user: &User,
        issue_key: &str,
        file_name: &str,
        content_type: &str,
        content: &[u8],
    ) -> Result<pb::Upload, Status> {
        self.request_with(
            user,
            pb::CreateUploadRequest {
                issue_key: issue_key.into(),
                file_name: file_name.into(),
                size: content.len() as i64,
                content_type: content_type.into(),
                ..Default::default()
            },
        )
        .await
    }

    async fn request_with(
        &self,
        user: &User,
        request: pb::CreateUploadRequest,
    ) -> Result<pb::Upload, Status> {
        self.app
            .client()
            .create_upload(req(request, user))
            .await
            .map(|r| r.into_inner())
    }

    /// PUTs `body` to the upload's URL with its headers (the body's own length).
    async fn put(&self, upload: &pb::Upload, body: &[u8]) -> reqwest::StatusCode {
        assert_eq!(upload.method, "PUT");
        let mut put = self.http.put(&upload.url).body(body.to_vec());
        for (name, value) in &upload.headers {
            if !name.eq_ignore_ascii_case("content-length") {
                put = put.header(name, value);
            }
        }
        put.send().await.expect("the store answers").status()
    }

    async fn confirm(&self, user: &User, id: &str) -> Result<pb::Attachment, Status> {
        self.app
            .client()
            .confirm_upload(req(pb::ConfirmUploadRequest { id: id.into() }, user))
            .await
            .map(|r| r.into_inner())
    }

    /// Requests, uploads and confirms a file.
    async fn attach(
        &self,
        user: &User,
        issue_key: &str,
        file_name: &str,
        content_type: &str,
        content: &[u8],
    ) -> Result<pb::Attachment, Status> {
        let upload = self
            .request(user, issue_key, file_name, content_type, content)
            .await?;
        assert!(self.put(&upload, content).await.is_success());
        self.confirm(user, &upload.attachment.unwrap().id).await
    }

    async fn one_step(
        &self,
        user: &User,
        issue_key: &str,
        file_name: &str,
        content: &[u8],
    ) -> Result<pb::Attachment, Status> {
        self.app
            .client()
            .upload_attachment(req(
                pb::UploadAttachmentRequest {
                    issue_key: issue_key.into(),
                    file_name: file_name.into(),
                    content: content.to_vec(),
                    ..Default::default()
                },
                user,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn get(&self, user: &User, id: &str) -> Result<pb::Attachment, Status> {
        self.app
            .client()
            .get_attachment(req(pb::GetAttachmentRequest { id: id.into() }, user))
            .await
            .map(|r| r.into_inner())
    }

    async fn list(&self, user: &User, issue_key: &str) -> Vec<pb::Attachment> {
        self.app
            .client()
            .list_attachments(req(
                pb::ListAttachmentsRequest {
                    issue_key: issue_key.into(),
                    ..Default::default()
                },
                user,
            ))
            .await
            .unwrap()
            .into_inner()
            .attachments
    }

    async fn download(&self, user: &User, id: &str) -> Result<pb::AttachmentDownload, Status> {
        self.app
            .client()
            .get_attachment_download(req(
                pb::GetAttachmentDownloadRequest { id: id.into() },
                user,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn delete(&self, user: &User, id: &str) -> Result<(), Status> {
        self.app
            .client()
            .delete_attachment(req(pb::DeleteAttachmentRequest { id: id.into() }, user))
            .await
            .map(|_| ())
    }

    async fn usage(&self, user: &User, project_key: &str) -> Result<pb::AttachmentUsage, Status> {
        self.app
            .client()
            .get_attachment_usage(req(
                pb::GetAttachmentUsageRequest {
                    project_key: project_key.into(),
                },
                user,
            ))
            .await
            .map(|r| r.into_inner())
    }

    async fn object_exists(&self, key: &str) -> bool {
        self.objects
            .head(key)
            .await
            .expect("the store answers")
            .is_some()
    }

    /// Waits for the sweeper to have deleted the object `key`.
    async fn swept(&self, key: &str) {
        eventually(&format!("{key} is deleted"), || async {
            !self.object_exists(key).await
        })
        .await;
    }
}

/// Polls `check` until it holds (at most 10 s).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..100 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: not within 10 s");
}

fn sha256(content: &[u8]) -> String {
    Sha256::digest(content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn object_key(attachment: &pb::Attachment) -> String {
    format!("attachments/{}", attachment.id)
}

const LOG: &[u8] = b"2026-12-01T23:00:00Z ERROR worker crashed\n\tat main.rs:42\n";

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A valid RGB PNG of `width`×`height` (zlib with stored blocks), or, when `declared` is
/// given, one whose header claims that size over the same small image data (a bomb's header).
fn png(width: u32, height: u32, declared: Option<(u32, u32)>) -> Vec<u8> {
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0);
        for x in 0..width {
            raw.extend_from_slice(&[(x * 7) as u8, (y * 5) as u8, 128]);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in &raw {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let (w, h) = declared.unwrap_or((width, height));
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", &zlib);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

#[tokio::test]
async fn an_upload_is_requested_put_confirmed_listed_and_downloaded_as_an_attachment() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("ATT").await;

    let upload = files
        .request_with(
            &owner,
            pb::CreateUploadRequest {
                issue_key: issue.clone(),
                file_name: "worker.log".into(),
                size: LOG.len() as i64,
                content_type: "text/plain".into(),
                sha256: sha256(LOG).to_uppercase(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let pending = upload.attachment.clone().unwrap();
    assert_eq!(pending.state, pb::AttachmentState::Pending as i32);
    assert!(pending.expires_at.is_some());
    assert_eq!(pending.sha256, sha256(LOG), "normalized to lower case");
    assert!(upload.url_expires_at.is_some());
    assert!(
        files.list(&owner, &issue).await.len() == 1,
        "the uploader sees their pending upload"
    );
    assert_eq!(
        files
            .app
            .get_issue(&owner, &issue)
            .await
            .unwrap()
            .attachment_count,
        0
    );

    assert!(files.put(&upload, LOG).await.is_success());
    let ready = files.confirm(&owner, &pending.id).await.unwrap();
    assert_eq!(ready.state, pb::AttachmentState::Ready as i32);
    assert_eq!(ready.content_type, "text/plain");
    assert_eq!(ready.sha256, sha256(LOG));
    assert_eq!(ready.size, LOG.len() as i64);
    assert!(ready.confirmed_at.is_some() && ready.expires_at.is_none());
    assert_eq!(
        ready.thumbnail.unwrap().state,
        pb::ThumbnailState::None as i32
    );

    let listed = files.list(&owner, &issue).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, ready.id);
    assert_eq!(files.get(&owner, &ready.id).await.unwrap().id, ready.id);

    let download = files.download(&owner, &ready.id).await.unwrap();
    assert_eq!(download.file_name, "worker.log");
    assert_eq!(download.content_type, "text/plain; charset=utf-8");
    let got = files.http.get(&download.url).send().await.unwrap();
    assert!(got.status().is_success(), "{}", got.status());
    let disposition = got.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(disposition.contains("worker.log"), "{disposition}");
    assert_eq!(
        got.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    assert_eq!(got.bytes().await.unwrap().as_ref(), LOG);

    let issue_now = files.app.get_issue(&owner, &issue).await.unwrap();
    assert_eq!(issue_now.attachment_count, 1);
    let events = files
        .app
        .client()
        .list_issue_events(req(
            pb::ListIssueEventsRequest {
                issue_key: issue.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    let added = events
        .iter()
        .find(|e| e.kind == "attachment_added")
        .expect("history entry");
    assert_eq!(added.new_value.as_deref(), Some("worker.log"));

    let usage = files.usage(&owner, "ATT").await.unwrap();
    assert_eq!(
        (
            usage.used_bytes,
            usage.pending_bytes,
            usage.attachment_count
        ),
        (LOG.len() as i64, 0, 1)
    );
}

#[tokio::test]
async fn the_change_feed_carries_attachment_added_and_removed() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("FEED").await;
    let ready = files
        .attach(&owner, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap();
    files.delete(&owner, &ready.id).await.unwrap();
    let mut types = Vec::new();
    for _ in 0..100 {
        types = files
            .app
            .client()
            .list_changes(req(
                pb::ListChangesRequest {
                    project_key: "FEED".into(),
                    ..Default::default()
                },
                &owner,
            ))
            .await
            .unwrap()
            .into_inner()
            .changes
            .into_iter()
            .map(|c| c.r#type)
            .collect();
        if types.contains(&"attachment.removed".to_owned()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(types.contains(&"attachment.added".to_owned()), "{types:?}");
}

#[tokio::test]
async fn a_put_of_more_bytes_than_declared_is_refused_by_the_store_and_confirm_fails_cleanly() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("BIG").await;
    let upload = files
        .request(&owner, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap();
    let mut longer = LOG.to_vec();
    longer.extend_from_slice(b"and more\n");
    assert!(!files.put(&upload, &longer).await.is_success());
    let id = upload.attachment.clone().unwrap().id;
    let status = files.confirm(&owner, &id).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(!files.object_exists(&format!("attachments/{id}")).await);
    // Still pending: the right bytes can still be put and confirmed.
    assert!(files.put(&upload, LOG).await.is_success());
    files.confirm(&owner, &id).await.unwrap();
}

#[tokio::test]
async fn content_of_another_type_than_declared_is_refused_naming_content_type_and_its_object_deleted()
 {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("TYPE").await;
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\n%%EOF\n";
    for (content, declared) in [(png(2, 2, None), "text/plain"), (pdf.to_vec(), "image/png")] {
        let upload = files
            .request(&owner, &issue, "file", declared, &content)
            .await
            .unwrap();
        assert!(files.put(&upload, &content).await.is_success());
        let attachment = upload.attachment.unwrap();
        let status = files.confirm(&owner, &attachment.id).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        assert_eq!(fields(&status), ["content_type"]);
        assert_eq!(
            files.get(&owner, &attachment.id).await.unwrap_err().code(),
            Code::NotFound
        );
        files.swept(&object_key(&attachment)).await;
    }
    let usage = files.usage(&owner, "TYPE").await.unwrap();
    assert_eq!((usage.used_bytes, usage.pending_bytes), (0, 0));
}

#[tokio::test]
async fn a_sha256_mismatch_is_refused_naming_sha256() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("SHA").await;
    let upload = files
        .request_with(
            &owner,
            pb::CreateUploadRequest {
                issue_key: issue.clone(),
                file_name: "a.log".into(),
                size: LOG.len() as i64,
                content_type: "text/plain".into(),
                sha256: sha256(b"something else"),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(files.put(&upload, LOG).await.is_success());
    let attachment = upload.attachment.unwrap();
    let status = files.confirm(&owner, &attachment.id).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(fields(&status), ["sha256"]);
    files.swept(&object_key(&attachment)).await;
}

#[tokio::test]
async fn a_second_confirm_is_a_conflict_and_someone_elses_confirm_is_not_found() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("TWICE").await;
    let other = files.app.user("twice-other").await;
    files
        .app
        .set_member(&owner, "TWICE", &other, pb::Role::Maintainer)
        .await
        .unwrap();
    let upload = files
        .request(&owner, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap();
    assert!(files.put(&upload, LOG).await.is_success());
    let id = upload.attachment.unwrap().id;
    let status = files.confirm(&other, &id).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    assert_eq!(
        files.get(&other, &id).await.unwrap_err().code(),
        Code::NotFound,
        "a pending upload is its uploader's only"
    );
    assert!(files.list(&other, &issue).await.is_empty());

    let (first, second) = tokio::join!(files.confirm(&owner, &id), files.confirm(&owner, &id));
    let (ok, conflict) = match (first, second) {
        (Ok(a), Err(s)) | (Err(s), Ok(a)) => (a, s),
        other => panic!("one confirm wins: {other:?}"),
    };
    assert_eq!(ok.state, pb::AttachmentState::Ready as i32);
    assert_eq!(conflict.code(), Code::FailedPrecondition, "{conflict:?}");
    let again = files.confirm(&owner, &id).await.unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert_eq!(
        files
            .app
            .get_issue(&owner, &issue)
            .await
            .unwrap()
            .attachment_count,
        1
    );
    assert!(files.object_exists(&format!("attachments/{id}")).await);
}

#[tokio::test]
async fn an_expired_upload_url_is_refused_and_leaves_no_object() {
    let files = Files::spawn_with(|config| {
        config.attachments.upload_url_ttl = Duration::from_secs(1);
    })
    .await;
    let (owner, issue) = files.project("LATE").await;
    let upload = files
        .request(&owner, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        !files.put(&upload, LOG).await.is_success(),
        "the store refuses an expired URL"
    );
    let attachment = upload.attachment.unwrap();
    let status = files.confirm(&owner, &attachment.id).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    assert!(status.message().contains("expired"), "{status:?}");
    assert_eq!(
        files.get(&owner, &attachment.id).await.unwrap_err().code(),
        Code::NotFound
    );
    assert!(!files.object_exists(&object_key(&attachment)).await);
    let usage = files.usage(&owner, "LATE").await.unwrap();
    assert_eq!(usage.pending_bytes, 0);
}

#[tokio::test]
async fn the_store_down_during_confirm_is_unavailable_and_the_confirm_can_be_retried() {
    let mut files = Files::spawn().await;
    let (owner, issue) = files.project("DOWN").await;
    let upload = files
        .request(&owner, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap();
    assert!(files.put(&upload, LOG).await.is_success());
    let id = upload.attachment.unwrap().id;
    files.s3.stop();
    let status = files.confirm(&owner, &id).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        files.get(&owner, &id).await.unwrap().state,
        pb::AttachmentState::Pending as i32
    );
    files.s3.resume().await;
    let ready = files.confirm(&owner, &id).await.unwrap();
    assert_eq!(ready.state, pb::AttachmentState::Ready as i32);
}

#[tokio::test]
async fn the_project_quota_and_the_count_per_issue_hold_with_pending_uploads_counted() {
    let files = Files::spawn_with(|config| {
        config.attachments.project_quota_bytes = 100;
        config.attachments.max_per_issue = 2;
    })
    .await;
    let (owner, issue) = files.project("QUOTA").await;
    let sixty = [b'a'; 60];
    files
        .request(&owner, &issue, "a.txt", "text/plain", &sixty)
        .await
        .unwrap();
    let over = files
        .request(&owner, &issue, "b.txt", "text/plain", &sixty)
        .await
        .unwrap_err();
    assert_eq!(over.code(), Code::FailedPrecondition, "{over:?}");
    assert!(
        over.message().contains("120") && over.message().contains("100"),
        "{over:?}"
    );
    files
        .request(&owner, &issue, "c.txt", "text/plain", &[b'c'; 40])
        .await
        .unwrap();
    let second = files
        .app
        .create_issue(&owner, "QUOTA", "Other")
        .await
        .unwrap();
    let full = files
        .request(&owner, &second.key, "d.txt", "text/plain", b"d")
        .await
        .unwrap_err();
    assert_eq!(
        full.code(),
        Code::FailedPrecondition,
        "quota is per project"
    );

    let count_files = Files::spawn_with(|config| config.attachments.max_per_issue = 2).await;
    let (owner, issue) = count_files.project("COUNT").await;
    for name in ["1.log", "2.log"] {
        count_files
            .attach(&owner, &issue, name, "text/plain", LOG)
            .await
            .unwrap();
    }
    let third = count_files
        .request(&owner, &issue, "3.log", "text/plain", LOG)
        .await
        .unwrap_err();
    assert_eq!(third.code(), Code::FailedPrecondition, "{third:?}");
    assert!(third.message().contains("2 attachments"), "{third:?}");

    let too_big = count_files
        .request(&owner, &issue, "huge.bin", "application/octet-stream", &[])
        .await
        .unwrap_err();
    assert_eq!(too_big.code(), Code::InvalidArgument);
    assert_eq!(fields(&too_big), ["size"]);
}

#[tokio::test]
async fn viewers_read_reporters_attach_and_only_uploaders_maintainers_and_owners_delete() {
    let files = Files::spawn().await;
    let cast = files.app.cast("PERM").await;
    let issue = files
        .app
        .create_issue(&cast.owner, "PERM", "Crash")
        .await
        .unwrap()
        .key;
    let refused = files
        .request(&cast.viewer, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let hidden = files
        .request(&cast.outsider, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);

    let comment = files
        .app
        .comment(&cast.reporter, &issue, "log attached")
        .await
        .unwrap();
    let upload = files
        .request_with(
            &cast.reporter,
            pb::CreateUploadRequest {
                issue_key: issue.clone(),
                comment_id: comment.id.clone(),
                file_name: "a.log".into(),
                size: LOG.len() as i64,
                content_type: "text/plain".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(files.put(&upload, LOG).await.is_success());
    let by_reporter = files
        .confirm(&cast.reporter, &upload.attachment.unwrap().id)
        .await
        .unwrap();
    assert_eq!(by_reporter.comment_id, comment.id);

    assert_eq!(files.list(&cast.viewer, &issue).await.len(), 1);
    files.download(&cast.viewer, &by_reporter.id).await.unwrap();
    assert_eq!(
        files
            .get(&cast.outsider, &by_reporter.id)
            .await
            .unwrap_err()
            .code(),
        Code::NotFound
    );

    let stranger = files.app.user("perm-stranger").await;
    files
        .app
        .set_member(&cast.owner, "PERM", &stranger, pb::Role::Reporter)
        .await
        .unwrap();
    for (who, code) in [
        (&cast.viewer, Code::PermissionDenied),
        (&stranger, Code::PermissionDenied),
        (&cast.outsider, Code::NotFound),
    ] {
        let status = files.delete(who, &by_reporter.id).await.unwrap_err();
        assert_eq!(status.code(), code, "{}", who.username);
    }
    files.delete(&cast.reporter, &by_reporter.id).await.unwrap();
    let by_owner = files
        .attach(&cast.owner, &issue, "b.log", "text/plain", LOG)
        .await
        .unwrap();
    files.delete(&cast.maintainer, &by_owner.id).await.unwrap();

    files.usage(&cast.owner, "PERM").await.unwrap();
    assert_eq!(
        files
            .usage(&cast.maintainer, "PERM")
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    let comment_elsewhere = files
        .request_with(
            &cast.reporter,
            pb::CreateUploadRequest {
                issue_key: files
                    .app
                    .create_issue(&cast.owner, "PERM", "Other")
                    .await
                    .unwrap()
                    .key,
                comment_id: comment.id.clone(),
                file_name: "a.log".into(),
                size: 1,
                content_type: "text/plain".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        comment_elsewhere.code(),
        Code::NotFound,
        "a comment of another issue"
    );
}

#[tokio::test]
async fn deleting_an_attachment_its_comment_its_issue_or_its_project_deletes_its_objects() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("GONE").await;
    let direct = files
        .attach(&owner, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap();
    assert!(files.object_exists(&object_key(&direct)).await);
    files.delete(&owner, &direct.id).await.unwrap();
    files.swept(&object_key(&direct)).await;
    let events = files
        .app
        .client()
        .list_issue_events(req(
            pb::ListIssueEventsRequest {
                issue_key: issue.clone(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(events.iter().any(|e| e.kind == "attachment_removed"));
    assert_eq!(
        files
            .app
            .get_issue(&owner, &issue)
            .await
            .unwrap()
            .attachment_count,
        0
    );

    let comment = files.app.comment(&owner, &issue, "see log").await.unwrap();
    let upload = files
        .request_with(
            &owner,
            pb::CreateUploadRequest {
                issue_key: issue.clone(),
                comment_id: comment.id.clone(),
                file_name: "b.log".into(),
                size: LOG.len() as i64,
                content_type: "text/plain".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(files.put(&upload, LOG).await.is_success());
    let on_comment = files
        .confirm(&owner, &upload.attachment.unwrap().id)
        .await
        .unwrap();
    files
        .app
        .client()
        .delete_comment(req(
            pb::DeleteCommentRequest {
                id: comment.id.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    files.swept(&object_key(&on_comment)).await;

    let on_issue = files
        .attach(&owner, &issue, "c.log", "text/plain", LOG)
        .await
        .unwrap();
    files
        .app
        .client()
        .delete_issue(req(
            pb::DeleteIssueRequest {
                issue_key: issue.clone(),
            },
            &owner,
        ))
        .await
        .unwrap();
    files.swept(&object_key(&on_issue)).await;

    let other = files
        .app
        .create_issue(&owner, "GONE", "Other")
        .await
        .unwrap();
    let in_project = files
        .attach(&owner, &other.key, "d.log", "text/plain", LOG)
        .await
        .unwrap();
    let pending = files
        .request(&owner, &other.key, "e.log", "text/plain", LOG)
        .await
        .unwrap();
    assert!(files.put(&pending, LOG).await.is_success());
    files
        .app
        .client()
        .delete_project(req(pb::DeleteProjectRequest { key: "GONE".into() }, &owner))
        .await
        .unwrap();
    files.swept(&object_key(&in_project)).await;
    files.swept(&object_key(&pending.attachment.unwrap())).await;
}

#[tokio::test]
async fn unconfirmed_uploads_are_swept_with_their_objects() {
    let files = Files::spawn_with(|config| {
        config.attachments.pending_ttl = Duration::from_secs(1);
        config.attachments.upload_url_ttl = Duration::from_secs(1);
    })
    .await;
    let (owner, issue) = files.project("SWEEP").await;
    let upload = files
        .request(&owner, &issue, "a.log", "text/plain", LOG)
        .await
        .unwrap();
    assert!(files.put(&upload, LOG).await.is_success());
    let attachment = upload.attachment.unwrap();
    files.swept(&object_key(&attachment)).await;
    assert_eq!(
        files.get(&owner, &attachment.id).await.unwrap_err().code(),
        Code::NotFound
    );
    let usage = files.usage(&owner, "SWEEP").await.unwrap();
    assert_eq!(usage.pending_bytes, 0);
}

#[tokio::test]
async fn an_html_page_is_served_as_plain_text_and_as_an_attachment() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("HTML").await;
    let page = b"<!DOCTYPE html><html><script>alert(document.cookie)</script></html>";
    let uploaded = files
        .one_step(&owner, &issue, "page.html", page)
        .await
        .unwrap();
    assert_eq!(uploaded.state, pb::AttachmentState::Ready as i32);
    assert_eq!(uploaded.content_type, "text/html");
    let download = files.download(&owner, &uploaded.id).await.unwrap();
    assert_eq!(download.content_type, "text/plain; charset=utf-8");
    let got = files.http.get(&download.url).send().await.unwrap();
    assert_eq!(
        got.headers()["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    assert!(
        got.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(got.bytes().await.unwrap().as_ref(), page);
}

#[tokio::test]
async fn the_one_step_upload_verifies_like_a_confirm() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("ONE").await;
    let refused = files
        .app
        .client()
        .upload_attachment(req(
            pb::UploadAttachmentRequest {
                issue_key: issue.clone(),
                file_name: "shot.png".into(),
                content: LOG.to_vec(),
                content_type: "image/png".into(),
                sha256: String::new(),
                ..Default::default()
            },
            &owner,
        ))
        .await
        .unwrap_err();
    assert_eq!(fields(&refused), ["content_type"]);
    let empty = files
        .one_step(&owner, &issue, "empty", b"")
        .await
        .unwrap_err();
    assert_eq!(fields(&empty), ["content"]);
    let ok = files.one_step(&owner, &issue, "a.log", LOG).await.unwrap();
    assert_eq!(ok.content_type, "text/plain");
    assert_eq!(files.list(&owner, &issue).await.len(), 1);

    let mut files = files;
    files.s3.stop();
    let down = files
        .one_step(&owner, &issue, "b.log", LOG)
        .await
        .unwrap_err();
    assert_eq!(down.code(), Code::Unavailable, "{down:?}");
    files.s3.resume().await;
}

#[tokio::test]
async fn file_names_lose_their_path_and_bidirectional_overrides() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("NAME").await;
    let uploaded = files
        .one_step(&owner, &issue, "C:\\Users\\me\\invoice\u{202E}gpj.exe", LOG)
        .await
        .unwrap();
    assert_eq!(uploaded.file_name, "invoicegpj.exe");
    let download = files.download(&owner, &uploaded.id).await.unwrap();
    let got = files.http.get(&download.url).send().await.unwrap();
    let disposition = got.headers()["content-disposition"].to_str().unwrap();
    assert!(disposition.contains("invoicegpj.exe"), "{disposition}");
    let invalid = files
        .request(&owner, &issue, "../", "text/plain", LOG)
        .await
        .unwrap_err();
    assert_eq!(fields(&invalid), ["file_name"]);
}

#[tokio::test]
async fn an_image_gets_a_thumbnail_and_a_decompression_bomb_is_refused_but_ready() {
    let files = Files::spawn().await;
    let (owner, issue) = files.project("THUMB").await;
    let image = png(600, 300, None);
    let shot = files
        .attach(&owner, &issue, "shot.png", "image/png", &image)
        .await
        .unwrap();
    assert_eq!(shot.content_type, "image/png");
    let thumbnail = shot.thumbnail.unwrap();
    assert_eq!(
        thumbnail.state,
        pb::ThumbnailState::Ready as i32,
        "{thumbnail:?}"
    );
    assert_eq!((thumbnail.width, thumbnail.height), (256, 128));
    let got = files.http.get(&thumbnail.url).send().await.unwrap();
    assert!(got.status().is_success());
    assert!(got.bytes().await.unwrap().starts_with(b"\x89PNG"));

    let bomb = png(4, 4, Some((100_000, 100_000)));
    let refused = files
        .one_step(&owner, &issue, "bomb.png", &bomb)
        .await
        .unwrap();
    assert_eq!(refused.state, pb::AttachmentState::Ready as i32);
    assert_eq!(
        refused.thumbnail.unwrap().state,
        pb::ThumbnailState::Refused as i32
    );

    files.delete(&owner, &shot.id).await.unwrap();
    files.swept(&format!("thumbnails/{}.png", shot.id)).await;
}
