//! Attachments of issues and comments: presigned uploads and their confirmation, the one-step
//! small upload, listing, downloads and deletion, and a project's usage (docs/api.md,
//! "Attachments"). Rules are in `domain::attachments`, queries in `store::attachments`, the
//! object store and the sweeper in `crate::attachments`.
//!
//! An upload is admitted (limits checked under the project's usage lock) and stored as a
//! pending row first; its object is then read once to verify it, without a transaction open;
//! the row becomes ready, with its history entry and its event, in one transaction that checks
//! again that it is still pending. Whatever refuses an upload deletes its row, and the database
//! queues its object for the sweeper in the same transaction.

use bytes::Bytes;
use chrono::Utc;
use sha2::{Digest, Sha256};
use swatter_common::{
    auth::UserPrincipal,
    objects::{GetOverrides, ObjectError, PresignedRequest},
    pagination,
    rpc::{Violations, timestamp},
    status::Violation,
};
use swatter_proto::issues::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{Issues, authorize_locked, caller, check, issues::visible_issue, within_token};
use crate::{
    domain::{
        Action, Change,
        attachments::{
            self, AttachmentState, DeclaredType, FileName, Holdings, Limits, SNIFF_LEN, Sniffed,
            ThumbnailState,
        },
        authorize,
    },
    error::{IssuesError, Result},
    feed::data,
    store::{self, AttachmentRow, NewAttachment, ReadyFields},
    thumbnail,
};

const NO_ATTACHING: &str = "viewers may not attach files";
const NO_DELETING: &str = "only the uploader, maintainers and owners may delete an attachment";
const NO_USAGE: &str = "only owners may read the project's attachment usage";

/// Default and largest page of `ListAttachments`.
const DEFAULT_PAGE_SIZE: i32 = 50;

/// An upload as asked for, parsed.
struct Asked {
    issue_key: String,
    comment_id: String,
    file_name: FileName,
    declared_type: DeclaredType,
    size: u64,
    sha256: Option<String>,
}

impl Asked {
    /// An upload as asked for, from its parts: the size and type come checked by the caller
    /// (the two ways to upload take them differently); every violation is reported at once.
    fn parse(
        issue_key: String,
        comment_id: String,
        file_name: &str,
        size: std::result::Result<u64, Violation>,
        declared_type: std::result::Result<DeclaredType, Violation>,
        sha256: &str,
    ) -> Result<Asked> {
        let mut v = Violations::default();
        let file_name = v.check(FileName::parse("file_name", file_name));
        let size = v.check(size);
        let declared_type = v.check(declared_type);
        let sha256 = v.check(attachments::parse_sha256("sha256", sha256));
        v.finish()?;
        let (Some(file_name), Some(size), Some(declared_type), Some(sha256)) =
            (file_name, size, declared_type, sha256)
        else {
            unreachable!("violations were reported above");
        };
        Ok(Asked {
            issue_key,
            comment_id,
            file_name,
            declared_type,
            size,
            sha256,
        })
    }
}

fn store_error(error: ObjectError) -> IssuesError {
    match error {
        ObjectError::Unavailable(_) => IssuesError::Unavailable(error.into()),
        ObjectError::Refused { .. } => IssuesError::Internal(error.into()),
    }
}

fn attachment_id(raw: &str) -> Result<Uuid> {
    raw.parse().map_err(|_| IssuesError::NotFound("attachment"))
}

/// A presigned GET of a thumbnail, while there is one.
fn thumbnail_of(issues: &Issues, row: &AttachmentRow) -> pb::Thumbnail {
    let state = match row.thumbnail_state {
        ThumbnailState::None => pb::ThumbnailState::None,
        ThumbnailState::Ready => pb::ThumbnailState::Ready,
        ThumbnailState::Refused => pb::ThumbnailState::Refused,
    };
    let mut thumbnail = pb::Thumbnail {
        state: state as i32,
        ..Default::default()
    };
    if let (ThumbnailState::Ready, Some(key)) = (row.thumbnail_state, &row.thumbnail_key) {
        let get = issues.attachments.objects.presign_get(
            key,
            issues.attachments.settings.download_ttl,
            &GetOverrides {
                content_type: Some("image/png".to_owned()),
                content_disposition: None,
            },
        );
        thumbnail.url = get.url;
        thumbnail.url_expires_at = Some(timestamp(get.expires_at));
        thumbnail.width = row.thumbnail_width.unwrap_or_default();
        thumbnail.height = row.thumbnail_height.unwrap_or_default();
    }
    thumbnail
}

fn attachment(issues: &Issues, row: AttachmentRow) -> pb::Attachment {
    let thumbnail = thumbnail_of(issues, &row);
    pb::Attachment {
        id: row.id.to_string(),
        issue_key: row.issue_key,
        comment_id: row.comment_id.map(|id| id.to_string()).unwrap_or_default(),
        file_name: row.file_name,
        content_type: row.content_type,
        size: row.size,
        sha256: row.sha256.unwrap_or_default(),
        state: match row.state {
            AttachmentState::Pending => pb::AttachmentState::Pending,
            AttachmentState::Ready => pb::AttachmentState::Ready,
        } as i32,
        uploaded_by: row.uploaded_by.to_string(),
        created_at: Some(timestamp(row.created_at)),
        confirmed_at: row.confirmed_at.map(timestamp),
        expires_at: row.expires_at.map(timestamp),
        thumbnail: Some(thumbnail),
    }
}

/// Admits an upload: the caller may attach to the issue (or its comment), and it fits the
/// project's quota and the issue's count, checked one upload at a time under the project's
/// usage lock. The row is pending until confirmed, and swept after `SWATTER_UPLOAD_CONFIRM_SECS`.
async fn admit(issues: &Issues, me: &UserPrincipal, asked: &Asked) -> Result<AttachmentRow> {
    let issue = visible_issue(issues, &asked.issue_key, me).await?;
    let comment_id = if asked.comment_id.is_empty() {
        None
    } else {
        let id: Uuid = asked
            .comment_id
            .parse()
            .map_err(|_| IssuesError::NotFound("comment"))?;
        let comment = store::comment_by_id(&issues.db, id, me.id).await?;
        if comment.is_none_or(|c| c.issue_id != issue.id) {
            return Err(IssuesError::NotFound("comment"));
        }
        Some(id)
    };
    check(
        authorize(issue.my_role, me.admin, Action::Attach),
        "issue",
        NO_ATTACHING,
    )?;
    let settings = &issues.attachments.settings;
    let mut tx = issues.db.begin().await?;
    authorize_locked(
        &mut tx,
        &issue.project_key,
        me,
        Action::Attach,
        "issue",
        NO_ATTACHING,
    )
    .await?;
    let held: Holdings = store::lock_holdings(&mut tx, issue.project_id, issue.id).await?;
    let limits = Limits {
        project_quota_bytes: settings.project_quota_bytes,
        max_per_issue: settings.max_per_issue,
    };
    attachments::admit(limits, held, asked.size)
        .map_err(|why| IssuesError::FailedPrecondition(why.into()))?;
    let id = Uuid::now_v7();
    let object_key = attachments::object_key(id);
    let expires_at = Utc::now()
        + chrono::Duration::from_std(settings.pending_ttl).map_err(anyhow::Error::from)?;
    store::insert_pending(
        &mut *tx,
        &NewAttachment {
            id,
            project_id: issue.project_id,
            issue_id: issue.id,
            comment_id,
            uploaded_by: me.id,
            file_name: asked.file_name.as_str(),
            declared_type: asked.declared_type.as_str(),
            size: i64::try_from(asked.size).map_err(anyhow::Error::from)?,
            sha256: asked.sha256.as_deref(),
            object_key: &object_key,
            expires_at,
        },
    )
    .await?;
    let row = store::attachment_by_id(&mut *tx, id, me.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("admitted attachment not found"))?;
    tx.commit().await?;
    Ok(row)
}

pub(super) async fn create_upload(
    issues: &Issues,
    request: Request<pb::CreateUploadRequest>,
) -> Result<pb::Upload> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let settings = &issues.attachments.settings;
    let asked = Asked::parse(
        req.issue_key,
        req.comment_id,
        &req.file_name,
        attachments::parse_size("size", req.size, settings.max_file_bytes),
        DeclaredType::parse("content_type", &req.content_type),
        &req.sha256,
    )?;
    let row = admit(issues, &me, &asked).await?;
    let PresignedRequest {
        method,
        url,
        headers,
        expires_at,
    } = issues.attachments.objects.presign_put(
        &row.object_key,
        asked.size,
        asked.declared_type.as_str(),
        settings.upload_url_ttl,
    );
    Ok(pb::Upload {
        attachment: Some(attachment(issues, row)),
        method: method.to_owned(),
        url,
        headers: headers.into_iter().collect(),
        url_expires_at: Some(timestamp(expires_at)),
    })
}

pub(super) async fn confirm_upload(
    issues: &Issues,
    request: Request<pb::ConfirmUploadRequest>,
) -> Result<pb::Attachment> {
    let me = caller(&request)?;
    let id = attachment_id(&request.get_ref().id)?;
    let row = own_pending_upload(issues, &me, id).await?;
    let objects = &issues.attachments.objects;
    let Some(mut body) = objects.get(&row.object_key).await.map_err(store_error)? else {
        let url_life = chrono::Duration::from_std(issues.attachments.settings.upload_url_ttl)
            .map_err(anyhow::Error::from)?;
        if row.created_at + url_life < Utc::now() {
            refuse(issues, &me, &row).await?;
            return Err(IssuesError::FailedPrecondition(
                "the upload URL expired before the file was uploaded: ask for a new upload".into(),
            ));
        }
        return Err(IssuesError::FailedPrecondition(
            "nothing was uploaded yet: PUT the file to the upload URL, then confirm".into(),
        ));
    };
    let mut reading = Inspection::new(row.size);
    while let Some(chunk) = body.chunk().await.map_err(store_error)? {
        if !reading.take(&chunk) {
            break;
        }
    }
    finish(issues, &me, row, reading.done()).await
}

pub(super) async fn upload_attachment(
    issues: &Issues,
    request: Request<pb::UploadAttachmentRequest>,
) -> Result<pb::Attachment> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let settings = &issues.attachments.settings;
    let max = settings.max_file_bytes.min(attachments::MAX_ONE_STEP_BYTES);
    let content = Bytes::from(req.content);
    let declared_type = if req.content_type.is_empty() {
        Ok(DeclaredType::of(attachments::sniff(
            &content[..content.len().min(SNIFF_LEN)],
        )))
    } else {
        DeclaredType::parse("content_type", &req.content_type)
    };
    let asked = Asked::parse(
        req.issue_key,
        req.comment_id,
        &req.file_name,
        attachments::parse_size(
            "content",
            i64::try_from(content.len()).unwrap_or(i64::MAX),
            max,
        ),
        declared_type,
        &req.sha256,
    )?;
    let row = admit(issues, &me, &asked).await?;
    // A store that is down leaves the row pending: it is swept with whatever was written.
    issues
        .attachments
        .objects
        .put(
            &row.object_key,
            content.clone(),
            asked.declared_type.as_str(),
        )
        .await
        .map_err(store_error)?;
    let mut reading = Inspection::new(row.size);
    reading.take(&content);
    finish(issues, &me, row, reading.done()).await
}

/// The caller's own pending upload `id`; another's is not found, a confirmed one is a conflict.
async fn own_pending_upload(
    issues: &Issues,
    me: &UserPrincipal,
    id: Uuid,
) -> Result<AttachmentRow> {
    let row = store::attachment_by_id(&issues.db, id, me.id)
        .await?
        .filter(|row| row.uploaded_by == me.id)
        .ok_or(IssuesError::NotFound("attachment"))?;
    within_token(me, &row.project_key, "attachment")?;
    check(
        authorize(row.my_role, me.admin, Action::Attach),
        "attachment",
        NO_ATTACHING,
    )?;
    if row.state == AttachmentState::Ready {
        return Err(already_confirmed());
    }
    Ok(row)
}

fn already_confirmed() -> IssuesError {
    IssuesError::FailedPrecondition("the upload is already confirmed".into())
}

/// What reading an object found: its size, SHA-256 and first bytes, and all of it when it may
/// be an image to make a thumbnail of.
struct Inspection {
    declared_size: i64,
    size: u64,
    hasher: Sha256,
    kept: Vec<u8>,
    keep_all: Option<bool>,
}

/// An object, read.
struct Inspected {
    size: u64,
    sha256: String,
    sniffed: Sniffed,
    /// The content, for a thumbnail.
    image: Option<Vec<u8>>,
}

impl Inspection {
    fn new(declared_size: i64) -> Self {
        Inspection {
            declared_size,
            size: 0,
            hasher: Sha256::new(),
            kept: Vec::new(),
            keep_all: None,
        }
    }

    /// Reads a chunk; `false` once the object is known to be larger than declared (reading
    /// further is useless).
    fn take(&mut self, chunk: &[u8]) -> bool {
        self.size += chunk.len() as u64;
        self.hasher.update(chunk);
        if self.keep_all != Some(false) {
            self.kept.extend_from_slice(chunk);
            if self.keep_all.is_none() && self.kept.len() >= SNIFF_LEN {
                let keep = attachments::sniff(&self.kept[..SNIFF_LEN]).has_thumbnail();
                self.keep_all = Some(keep);
                if !keep {
                    self.kept.truncate(SNIFF_LEN);
                }
            }
        }
        i64::try_from(self.size).is_ok_and(|size| size <= self.declared_size)
    }

    fn done(self) -> Inspected {
        let sniffed = attachments::sniff(&self.kept[..self.kept.len().min(SNIFF_LEN)]);
        let complete = self.keep_all != Some(false);
        Inspected {
            size: self.size,
            sha256: attachments::hex(&self.hasher.finalize()),
            sniffed,
            image: (sniffed.has_thumbnail() && complete).then_some(self.kept),
        }
    }
}

/// Deletes a pending upload the store's object refuses (the database queues its object).
async fn refuse(issues: &Issues, me: &UserPrincipal, row: &AttachmentRow) -> Result<()> {
    let mut tx = issues.db.begin().await?;
    if let Some(locked) = store::lock_attachment(&mut tx, row.id, me.id).await?
        && locked.state == AttachmentState::Pending
    {
        store::delete_attachment(&mut *tx, row.id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Verifies what was read against what was asked for, makes the thumbnail, and makes the
/// upload ready with its history entry and event, in one transaction.
async fn finish(
    issues: &Issues,
    me: &UserPrincipal,
    row: AttachmentRow,
    read: Inspected,
) -> Result<pb::Attachment> {
    let declared_type = DeclaredType::parse("content_type", &row.declared_type)
        .map_err(|v| anyhow::anyhow!("stored declared type: {}", v.message))?;
    let declared_size = u64::try_from(row.size).map_err(anyhow::Error::from)?;
    if let Err(violation) = attachments::verify(
        declared_size,
        row.sha256.as_deref(),
        &declared_type,
        read.size,
        &read.sha256,
        read.sniffed,
    ) {
        refuse(issues, me, &row).await?;
        return Err(IssuesError::invalid(violation));
    }
    let (thumbnail_state, dimensions) = match read.image {
        Some(image) => make_thumbnail(issues, &row, image).await?,
        None => (ThumbnailState::None, None),
    };
    let ready = ReadyFields {
        content_type: read.sniffed.mime(),
        sha256: &read.sha256,
        thumbnail_state,
        thumbnail_width: dimensions.map(|(w, _)| w),
        thumbnail_height: dimensions.map(|(_, h)| h),
    };
    let mut tx = issues.db.begin().await?;
    authorize_locked(
        &mut tx,
        &row.project_key,
        me,
        Action::Attach,
        "attachment",
        NO_ATTACHING,
    )
    .await?;
    let locked = store::lock_attachment(&mut tx, row.id, me.id)
        .await?
        .ok_or(IssuesError::NotFound("attachment"))?;
    if locked.state == AttachmentState::Ready {
        return Err(already_confirmed());
    }
    store::mark_ready(&mut *tx, row.id, &ready).await?;
    store::touch_issue(&mut *tx, row.issue_id).await?;
    store::insert_events(
        &mut *tx,
        row.issue_id,
        me.id,
        &[Change::attachment_added(&row.file_name)],
        Utc::now(),
    )
    .await?;
    let confirmed = store::attachment_by_id(&mut *tx, row.id, me.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("confirmed attachment not found"))?;
    let confirmed = attachment(issues, confirmed);
    store::append_change(
        &mut tx,
        row.project_id,
        "attachment.added",
        &data::attachment(&confirmed),
    )
    .await?;
    tx.commit().await?;
    issues.feed.changed(row.project_id);
    Ok(confirmed)
}

/// The thumbnail of an image, stored at `thumbnails/{id}.png` (named on the row first, so that
/// the row's deletion queues it whatever happens): its state and size.
async fn make_thumbnail(
    issues: &Issues,
    row: &AttachmentRow,
    image: Vec<u8>,
) -> Result<(ThumbnailState, Option<(i32, i32)>)> {
    let max_pixels = issues.attachments.settings.thumbnail_max_pixels;
    let made = {
        let _slot = issues
            .attachments
            .thumbnail_slot
            .acquire()
            .await
            .map_err(anyhow::Error::from)?;
        tokio::task::spawn_blocking(move || thumbnail::make(&image, max_pixels))
            .await
            .map_err(anyhow::Error::from)?
    };
    let thumbnail = match made {
        Ok(thumbnail) => thumbnail,
        Err(refused) => {
            tracing::info!(attachment = %row.id, why = %refused, "no thumbnail");
            return Ok((ThumbnailState::Refused, None));
        }
    };
    let key = attachments::thumbnail_key(row.id);
    store::set_thumbnail_key(&issues.db, row.id, &key).await?;
    issues
        .attachments
        .objects
        .put(&key, Bytes::from(thumbnail.png), "image/png")
        .await
        .map_err(store_error)?;
    let side = |pixels: u32| i32::try_from(pixels).map_err(anyhow::Error::from);
    Ok((
        ThumbnailState::Ready,
        Some((side(thumbnail.width)?, side(thumbnail.height)?)),
    ))
}

/// An attachment the caller may see: a ready one, or their own pending one.
async fn visible_attachment(
    issues: &Issues,
    me: &UserPrincipal,
    raw_id: &str,
) -> Result<AttachmentRow> {
    let id = attachment_id(raw_id)?;
    let row = store::attachment_by_id(&issues.db, id, me.id)
        .await?
        .ok_or(IssuesError::NotFound("attachment"))?;
    within_token(me, &row.project_key, "attachment")?;
    check(
        authorize(row.my_role, me.admin, Action::View),
        "attachment",
        "",
    )?;
    if row.state == AttachmentState::Pending && row.uploaded_by != me.id {
        return Err(IssuesError::NotFound("attachment"));
    }
    Ok(row)
}

pub(super) async fn list_attachments(
    issues: &Issues,
    request: Request<pb::ListAttachmentsRequest>,
) -> Result<pb::ListAttachmentsResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let page_size = if req.page_size == 0 {
        DEFAULT_PAGE_SIZE
    } else {
        req.page_size
    };
    let (limit, after) =
        pagination::time_page(page_size, &req.page_token).map_err(IssuesError::invalid)?;
    let issue = visible_issue(issues, &req.issue_key, &me).await?;
    let comment_id = if req.comment_id.is_empty() {
        None
    } else {
        Some(
            req.comment_id
                .parse::<Uuid>()
                .map_err(|_| IssuesError::NotFound("comment"))?,
        )
    };
    let mut rows =
        store::list_attachments(&issues.db, issue.id, comment_id, me.id, after, limit + 1).await?;
    let next_page_token = pagination::next_time_token(&mut rows, limit, |a| (a.created_at, a.id));
    Ok(pb::ListAttachmentsResponse {
        attachments: rows
            .into_iter()
            .map(|row| attachment(issues, row))
            .collect(),
        next_page_token,
    })
}

pub(super) async fn get_attachment(
    issues: &Issues,
    request: Request<pb::GetAttachmentRequest>,
) -> Result<pb::Attachment> {
    let me = caller(&request)?;
    let row = visible_attachment(issues, &me, &request.get_ref().id).await?;
    Ok(attachment(issues, row))
}

pub(super) async fn get_attachment_download(
    issues: &Issues,
    request: Request<pb::GetAttachmentDownloadRequest>,
) -> Result<pb::AttachmentDownload> {
    let me = caller(&request)?;
    let row = visible_attachment(issues, &me, &request.get_ref().id).await?;
    if row.state != AttachmentState::Ready {
        return Err(IssuesError::FailedPrecondition(
            "the upload is not confirmed yet".into(),
        ));
    }
    let served = attachments::served_type(&row.content_type);
    let get = issues.attachments.objects.presign_get(
        &row.object_key,
        issues.attachments.settings.download_ttl,
        &GetOverrides {
            content_type: Some(served.clone()),
            content_disposition: Some(attachments::content_disposition(&row.file_name)),
        },
    );
    Ok(pb::AttachmentDownload {
        url: get.url,
        expires_at: Some(timestamp(get.expires_at)),
        file_name: row.file_name,
        content_type: served,
        size: row.size,
        sha256: row.sha256.unwrap_or_default(),
    })
}

pub(super) async fn delete_attachment(
    issues: &Issues,
    request: Request<pb::DeleteAttachmentRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let row = visible_attachment(issues, &me, &request.get_ref().id).await?;
    let mut tx = issues.db.begin().await?;
    authorize_locked(
        &mut tx,
        &row.project_key,
        &me,
        Action::DeleteAttachment {
            is_uploader: row.uploaded_by == me.id,
        },
        "attachment",
        NO_DELETING,
    )
    .await?;
    let locked = store::lock_attachment(&mut tx, row.id, me.id)
        .await?
        .ok_or(IssuesError::NotFound("attachment"))?;
    store::delete_attachment(&mut *tx, row.id).await?;
    // A pending upload withdrawn by its uploader was never shown: no history, no event.
    if locked.state == AttachmentState::Ready {
        store::touch_issue(&mut *tx, row.issue_id).await?;
        store::insert_events(
            &mut *tx,
            row.issue_id,
            me.id,
            &[Change::attachment_removed(&row.file_name)],
            Utc::now(),
        )
        .await?;
        store::append_change(
            &mut tx,
            row.project_id,
            "attachment.removed",
            &data::removed_attachment(
                &row.id.to_string(),
                &row.issue_key,
                row.comment_id.map(|id| id.to_string()).as_deref(),
            ),
        )
        .await?;
    }
    tx.commit().await?;
    issues.feed.changed(row.project_id);
    Ok(())
}

pub(super) async fn get_attachment_usage(
    issues: &Issues,
    request: Request<pb::GetAttachmentUsageRequest>,
) -> Result<pb::AttachmentUsage> {
    let me = caller(&request)?;
    let project = super::projects::project_with_access(
        issues,
        &request.get_ref().project_key,
        &me,
        Action::ViewAttachmentUsage,
        NO_USAGE,
    )
    .await?;
    let usage = store::attachment_usage(&issues.db, project.id).await?;
    let settings = &issues.attachments.settings;
    let int64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    Ok(pb::AttachmentUsage {
        project_key: project.key,
        used_bytes: usage.used_bytes,
        pending_bytes: usage.pending_bytes,
        quota_bytes: int64(settings.project_quota_bytes),
        attachment_count: usage.ready_count,
        max_file_bytes: int64(settings.max_file_bytes),
        max_per_issue: i32::try_from(settings.max_per_issue).unwrap_or(i32::MAX),
    })
}
