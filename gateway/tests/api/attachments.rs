//! Attachments through REST (docs/api.md, "Attachments"): the two-step upload with a real PUT to
//! the presigned URL of an s3s-fs, confirm, list, get, the download redirect and what it serves,
//! deletion; the one-step multipart upload and its 10 MiB bound; bad inputs named; the store
//! down during a confirm; usage for owners only; and the OpenAPI description of it all.

use std::io::Write;

use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{TestApp, assert_invalid, assert_problem, error_fields};

const TEN_MIB: usize = 10 * 1024 * 1024;

/// A project `ATT` owned by alice with the issue `ATT-1`; alice's token.
async fn project_with_issue(app: &TestApp) -> String {
    let alice = app.user("alice").await.access_token;
    app.create_project(&alice, "ATT").await;
    app.create_issue(&alice, "ATT", &json!({"title": "Crashes on start"}))
        .await;
    alice
}

fn sha256_hex(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// `POST /v1/issues/{issue_key}/attachments/uploads` with `body`.
async fn ask_upload(app: &TestApp, token: &str, issue_key: &str, body: &Value) -> Response {
    app.send_json(
        Method::POST,
        token,
        &format!("/v1/issues/{issue_key}/attachments/uploads"),
        body,
    )
    .await
}

/// The client's PUT to the presigned URL of `upload`, with exactly the headers it names.
async fn put_to_store(app: &TestApp, upload: &Value, content: Vec<u8>) -> Response {
    assert_eq!(upload["method"], "PUT", "{upload}");
    let mut request = app
        .client
        .put(upload["url"].as_str().expect("an upload URL"));
    for (name, value) in upload["headers"].as_object().expect("upload headers") {
        request = request.header(name.as_str(), value.as_str().expect("a header value"));
    }
    request
        .body(content)
        .send()
        .await
        .expect("PUT to the store")
}

async fn confirm(app: &TestApp, token: &str, id: &str) -> Response {
    app.authed(
        Method::POST,
        &format!("/v1/attachments/{id}/confirm"),
        token,
    )
    .send()
    .await
    .expect("send request")
}

/// Asks for an upload of `content`, PUTs it and confirms it; the ready attachment.
async fn attach(
    app: &TestApp,
    token: &str,
    issue_key: &str,
    file_name: &str,
    content_type: &str,
    content: &[u8],
) -> Value {
    let response = ask_upload(
        app,
        token,
        issue_key,
        &json!({
            "file_name": file_name,
            "size": content.len(),
            "content_type": content_type,
            "sha256": sha256_hex(content),
        }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED, "ask for an upload");
    let upload: Value = response.json().await.expect("an upload");
    let put = put_to_store(app, &upload, content.to_vec()).await;
    assert!(put.status().is_success(), "PUT: {}", put.status());
    let id = upload["attachment"]["id"].as_str().expect("an id");
    let confirmed = confirm(app, token, id).await;
    assert_eq!(confirmed.status(), StatusCode::OK, "confirm");
    confirmed.json().await.expect("an attachment")
}

/// One part of a `multipart/form-data` body.
struct Part<'a> {
    name: &'a str,
    file_name: Option<&'a str>,
    content_type: Option<&'a str>,
    data: &'a [u8],
}

impl<'a> Part<'a> {
    fn text(name: &'a str, value: &'a str) -> Self {
        Part {
            name,
            file_name: None,
            content_type: None,
            data: value.as_bytes(),
        }
    }

    fn file(file_name: &'a str, content_type: &'a str, data: &'a [u8]) -> Self {
        Part {
            name: "file",
            file_name: Some(file_name),
            content_type: Some(content_type),
            data,
        }
    }
}

const BOUNDARY: &str = "swatter-test-boundary-7f3a";

/// A `multipart/form-data` body of `parts`, as browsers and curl send one.
fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        write!(
            body,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"",
            part.name
        )
        .unwrap();
        if let Some(file_name) = part.file_name {
            write!(body, "; filename=\"{file_name}\"").unwrap();
        }
        body.extend_from_slice(b"\r\n");
        if let Some(content_type) = part.content_type {
            write!(body, "Content-Type: {content_type}\r\n").unwrap();
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.data);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{BOUNDARY}--\r\n").unwrap();
    body
}

/// `POST /v1/issues/{issue_key}/attachments` with a multipart body of `parts`.
async fn upload_form(app: &TestApp, token: &str, issue_key: &str, parts: &[Part<'_>]) -> Response {
    app.authed(
        Method::POST,
        &format!("/v1/issues/{issue_key}/attachments"),
        token,
    )
    .header(
        header::CONTENT_TYPE,
        format!("multipart/form-data; boundary={BOUNDARY}"),
    )
    .body(multipart(parts))
    .send()
    .await
    .expect("send request")
}

/// A valid PNG of `width` × `height` pixels (an RGB gradient), made with zlib and CRC-32 only.
fn png(width: u32, height: u32) -> Vec<u8> {
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
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut typed = kind.to_vec();
        typed.extend_from_slice(data);
        out.extend_from_slice(&typed);
        out.extend_from_slice(&crc32(&typed).to_be_bytes());
    }
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut raw = Vec::new();
    for y in 0..height {
        raw.push(0);
        for x in 0..width {
            raw.extend_from_slice(&[(x * 255 / width) as u8, (y * 255 / height) as u8, 128]);
        }
    }
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(&raw).unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &header);
    chunk(&mut png, b"IDAT", &zlib.finish().unwrap());
    chunk(&mut png, b"IEND", &[]);
    png
}

/// A client that shows redirects instead of following them.
fn not_following() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

#[tokio::test]
async fn a_file_uploaded_in_two_steps_is_listed_downloaded_and_deleted() {
    let app = TestApp::spawn_with_attachments().await;
    let alice = project_with_issue(&app).await;
    let content = b"thread 'main' panicked at src/main.rs:3:5\n".repeat(20);

    let response = ask_upload(
        &app,
        &alice,
        "ATT-1",
        &json!({
            "file_name": "crash.log",
            "size": content.len(),
            "content_type": "text/plain",
            "sha256": sha256_hex(&content),
        }),
    )
    .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let upload: Value = response.json().await.unwrap();
    let pending = &upload["attachment"];
    let id = pending["id"].as_str().unwrap().to_owned();
    assert_eq!(location, format!("/v1/attachments/{id}"));
    assert_eq!(pending["state"], "pending", "{upload}");
    assert_eq!(pending["issue_key"], "ATT-1");
    assert_eq!(pending["comment_id"], Value::Null);
    assert!(pending["expires_at"].is_string(), "{upload}");
    assert!(upload["url_expires_at"].is_string(), "{upload}");
    let put = put_to_store(&app, &upload, content.clone()).await;
    assert!(put.status().is_success(), "PUT: {}", put.status());
    let confirmed = confirm(&app, &alice, &id).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let attachment: Value = confirmed.json().await.unwrap();
    assert_eq!(attachment["state"], "ready", "{attachment}");
    assert_eq!(attachment["size"], content.len());
    assert_eq!(attachment["sha256"], sha256_hex(&content));
    assert_eq!(attachment["file_name"], "crash.log");
    assert!(
        attachment["content_type"]
            .as_str()
            .unwrap()
            .starts_with("text/plain"),
        "{attachment}"
    );
    assert_eq!(attachment["thumbnail"]["state"], "none", "{attachment}");
    assert!(attachment["confirmed_at"].is_string());
    assert_eq!(attachment["expires_at"], Value::Null);

    let listed = app.get_ok(&alice, "/v1/issues/ATT-1/attachments").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed["items"][0]["id"], id.as_str());
    assert_eq!(listed["next_page_token"], Value::Null);
    let one = app.get_ok(&alice, &location).await;
    assert_eq!(one["sha256"], attachment["sha256"]);
    let issue = app.get_ok(&alice, "/v1/issues/ATT-1").await;
    assert_eq!(issue["attachment_count"], 1, "{issue}");
    let history = app.get_ok(&alice, "/v1/issues/ATT-1/events").await;
    let kinds: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|event| event["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"attachment_added"), "{history}");

    let redirect = not_following()
        .get(app.url(&format!("{location}/download")))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(redirect.status(), StatusCode::SEE_OTHER);
    assert_eq!(redirect.headers()[header::CACHE_CONTROL], "no-store");
    let url = redirect.headers()[header::LOCATION].to_str().unwrap();
    let download = app.client.get(url).send().await.unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let disposition = download.headers()[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    assert!(disposition.contains("crash.log"), "{disposition}");
    assert_eq!(download.bytes().await.unwrap(), content);

    let deleted = app.delete_as(&alice, &location).await;
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get_as(&alice, &location).await, 404, "not-found").await;
    let after = app.get_ok(&alice, "/v1/issues/ATT-1").await;
    assert_eq!(after["attachment_count"], 0);
    let history = app.get_ok(&alice, "/v1/issues/ATT-1/events").await;
    assert!(
        history.to_string().contains("attachment_removed"),
        "{history}"
    );
}

#[tokio::test]
async fn a_screenshot_is_attached_in_one_multipart_request_with_a_thumbnail() {
    let app = TestApp::spawn_with_attachments().await;
    let alice = project_with_issue(&app).await;
    let screenshot = png(640, 400);
    let comment: Value = app
        .post_comment(&alice, "ATT-1", "Here is what I see")
        .await
        .json()
        .await
        .unwrap();
    let comment_id = comment["id"].as_str().unwrap();

    let response = upload_form(
        &app,
        &alice,
        "ATT-1",
        &[
            Part::file("screen shot.png", "image/png", &screenshot),
            Part::text("comment_id", comment_id),
            Part::text("sha256", &sha256_hex(&screenshot)),
        ],
    )
    .await;

    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let attachment: Value = response.json().await.unwrap();
    assert_eq!(
        location,
        format!("/v1/attachments/{}", attachment["id"].as_str().unwrap())
    );
    assert_eq!(attachment["state"], "ready", "{attachment}");
    assert_eq!(attachment["file_name"], "screen shot.png");
    assert_eq!(attachment["content_type"], "image/png");
    assert_eq!(attachment["comment_id"], comment_id);
    assert_eq!(attachment["size"], screenshot.len());
    let thumbnail = &attachment["thumbnail"];
    assert_eq!(thumbnail["state"], "ready", "{attachment}");
    assert_eq!(
        (&thumbnail["width"], &thumbnail["height"]),
        (&json!(256), &json!(160))
    );
    let thumb = app
        .client
        .get(thumbnail["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(thumb.status(), StatusCode::OK);
    assert!(thumb.bytes().await.unwrap().starts_with(b"\x89PNG"));
    let of_comment = app
        .get_ok(
            &alice,
            &format!("/v1/issues/ATT-1/attachments?comment_id={comment_id}"),
        )
        .await;
    assert_eq!(of_comment["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_one_step_upload_takes_ten_mib_and_refuses_a_byte_more_naming_the_file() {
    let app = TestApp::spawn_with_attachments().await;
    let alice = project_with_issue(&app).await;
    let largest = vec![b'x'; TEN_MIB];
    let too_large = vec![b'x'; TEN_MIB + 1];

    let accepted = upload_form(
        &app,
        &alice,
        "ATT-1",
        &[Part::file("big.log", "text/plain", &largest)],
    )
    .await;
    let refused = upload_form(
        &app,
        &alice,
        "ATT-1",
        &[Part::file("bigger.log", "text/plain", &too_large)],
    )
    .await;

    assert_eq!(accepted.status(), StatusCode::CREATED);
    let attachment: Value = accepted.json().await.unwrap();
    assert_eq!(attachment["size"], TEN_MIB);
    let problem = assert_problem(refused, 413, "payload-too-large").await;
    assert_eq!(error_fields(&problem), ["file"]);
    let listed = app.get_ok(&alice, "/v1/issues/ATT-1/attachments").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1, "{listed}");
}

#[tokio::test]
async fn a_one_step_upload_needs_a_multipart_form_with_a_file() {
    let app = TestApp::spawn_with_attachments().await;
    let alice = project_with_issue(&app).await;

    let no_file = upload_form(&app, &alice, "ATT-1", &[Part::text("sha256", "")]).await;
    let no_name = upload_form(
        &app,
        &alice,
        "ATT-1",
        &[Part {
            name: "file",
            file_name: None,
            content_type: None,
            data: b"text",
        }],
    )
    .await;
    let twice = upload_form(
        &app,
        &alice,
        "ATT-1",
        &[
            Part::file("a.txt", "text/plain", b"a"),
            Part::file("b.txt", "text/plain", b"b"),
        ],
    )
    .await;
    let unknown = upload_form(
        &app,
        &alice,
        "ATT-1",
        &[
            Part::file("a.txt", "text/plain", b"a"),
            Part::text("file_name", "b.txt"),
        ],
    )
    .await;
    let json = app
        .send_json(
            Method::POST,
            &alice,
            "/v1/issues/ATT-1/attachments",
            &json!({"file": "a"}),
        )
        .await;
    let bad_sha = upload_form(
        &app,
        &alice,
        "ATT-1",
        &[
            Part::file("a.txt", "text/plain", b"a"),
            Part::text("sha256", "not-a-digest"),
        ],
    )
    .await;

    assert_invalid(no_file, &["file"]).await;
    assert_invalid(no_name, &["file"]).await;
    assert_invalid(twice, &["file"]).await;
    assert_invalid(unknown, &["file_name"]).await;
    assert_problem(json, 415, "unsupported-media-type").await;
    assert_invalid(bad_sha, &["sha256"]).await;
}

#[tokio::test]
async fn bad_upload_requests_are_each_refused_naming_the_field() {
    let app = TestApp::spawn_with_attachments().await;
    let alice = project_with_issue(&app).await;
    let valid = json!({"file_name": "a.txt", "size": 10, "content_type": "text/plain"});
    let with = |field: &str, value: Value| {
        let mut body = valid.clone();
        body[field] = value;
        body
    };

    for (body, field) in [
        (with("size", json!(0)), "size"),
        (with("size", json!(-1)), "size"),
        (with("size", json!(25 * 1024 * 1024 + 1)), "size"),
        (with("size", json!("ten")), "size"),
        (with("file_name", json!("")), "file_name"),
        (with("file_name", json!("dir/")), "file_name"),
        (with("file_name", json!("x".repeat(256))), "file_name"),
        (with("content_type", json!("text")), "content_type"),
        (
            with("content_type", json!("text/plain; charset=utf-8")),
            "content_type",
        ),
        (with("sha256", json!("abc")), "sha256"),
        (with("sha256", json!("g".repeat(64))), "sha256"),
        (with("comment_id", json!("not-a-uuid")), "comment_id"),
        (with("extra", json!(1)), "extra"),
    ] {
        let response = ask_upload(&app, &alice, "ATT-1", &body).await;
        let problem = assert_problem(response, 422, "validation-failed").await;
        assert_eq!(error_fields(&problem), [field], "{body}");
    }
    let listed = app.get_ok(&alice, "/v1/issues/ATT-1/attachments").await;
    assert_eq!(listed["items"], json!([]));
    for path in [
        "/v1/attachments/not-a-uuid",
        "/v1/attachments/not-a-uuid/download",
    ] {
        assert_problem(app.get_as(&alice, path).await, 404, "not-found").await;
    }
    assert_problem(confirm(&app, &alice, "not-a-uuid").await, 404, "not-found").await;
    assert_problem(
        app.delete_as(&alice, "/v1/attachments/not-a-uuid").await,
        404,
        "not-found",
    )
    .await;
    assert_problem(
        ask_upload(&app, &alice, "ATT-99", &valid).await,
        404,
        "not-found",
    )
    .await;
    for query in ["page_size=0", "page_size=101", "comment_id=nope"] {
        let response = app
            .get_as(&alice, &format!("/v1/issues/ATT-1/attachments?{query}"))
            .await;
        let field = query.split('=').next().unwrap();
        assert_invalid(response, &[field]).await;
    }
}

#[tokio::test]
async fn what_the_store_got_must_be_what_was_declared() {
    let app = TestApp::spawn_with_attachments().await;
    let alice = project_with_issue(&app).await;
    let bob = app.user("bob").await;
    app.add_member(&alice, "ATT", &bob.id, "reporter").await;
    let content = b"hello, attachments".to_vec();
    let upload_of = |declared: Value| {
        let app = &app;
        let alice = alice.clone();
        async move {
            let response = ask_upload(app, &alice, "ATT-1", &declared).await;
            assert_eq!(response.status(), StatusCode::CREATED, "{declared}");
            response.json::<Value>().await.unwrap()
        }
    };

    // Another length than the signed one: the store refuses it (then nothing was uploaded), or
    // the confirm does.
    let short =
        upload_of(json!({"file_name": "a.txt", "size": 100, "content_type": "text/plain"})).await;
    let mut unsigned_length = short.clone();
    unsigned_length["headers"]
        .as_object_mut()
        .unwrap()
        .retain(|name, _| !name.eq_ignore_ascii_case("content-length"));
    let put = put_to_store(&app, &unsigned_length, content.clone()).await;
    let id = short["attachment"]["id"].as_str().unwrap();
    let confirmed = confirm(&app, &alice, id).await;
    if put.status().is_success() {
        assert_invalid(confirmed, &["size"]).await;
    } else {
        assert!(put.status().is_client_error(), "PUT: {}", put.status());
        assert_problem(confirmed, 409, "conflict").await;
    }

    // A SHA-256 mismatch.
    let wrong_sha = upload_of(json!({
        "file_name": "b.txt", "size": content.len(), "content_type": "text/plain",
        "sha256": sha256_hex(b"something else"),
    }))
    .await;
    put_to_store(&app, &wrong_sha, content.clone()).await;
    let id = wrong_sha["attachment"]["id"].as_str().unwrap();
    assert_invalid(confirm(&app, &alice, id).await, &["sha256"]).await;

    // Another type than declared: a PNG declared as a PDF.
    let screenshot = png(8, 8);
    let wrong_type = upload_of(json!({
        "file_name": "c.pdf", "size": screenshot.len(), "content_type": "application/pdf",
    }))
    .await;
    put_to_store(&app, &wrong_type, screenshot).await;
    let id = wrong_type["attachment"]["id"].as_str().unwrap();
    assert_invalid(confirm(&app, &alice, id).await, &["content_type"]).await;

    // Someone else's upload is invisible; a second confirm is a conflict.
    let fine = upload_of(
        json!({"file_name": "d.txt", "size": content.len(), "content_type": "text/plain"}),
    )
    .await;
    put_to_store(&app, &fine, content.clone()).await;
    let id = fine["attachment"]["id"].as_str().unwrap();
    assert_problem(confirm(&app, &bob.access_token, id).await, 404, "not-found").await;
    assert_eq!(confirm(&app, &alice, id).await.status(), StatusCode::OK);
    assert_problem(confirm(&app, &alice, id).await, 409, "conflict").await;

    let listed = app.get_ok(&alice, "/v1/issues/ATT-1/attachments").await;
    let names: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["state"] == "ready")
        .map(|a| a["file_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["d.txt"], "{listed}");
}

#[tokio::test]
async fn an_upload_url_used_after_it_expired_is_refused_and_the_upload_goes() {
    let app = TestApp::spawn_with_attachments_configured(|settings| {
        settings.upload_url_ttl = std::time::Duration::from_secs(1);
    })
    .await;
    let alice = project_with_issue(&app).await;
    let content = b"too late".to_vec();
    let upload: Value = ask_upload(
        &app,
        &alice,
        "ATT-1",
        &json!({"file_name": "late.txt", "size": content.len(), "content_type": "text/plain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = upload["attachment"]["id"].as_str().unwrap().to_owned();

    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let put = put_to_store(&app, &upload, content).await;
    let confirmed = confirm(&app, &alice, &id).await;

    assert!(put.status().is_client_error(), "PUT: {}", put.status());
    let problem = assert_problem(confirmed, 409, "conflict").await;
    assert!(
        problem["detail"].as_str().unwrap().contains("expired"),
        "{problem}"
    );
    assert_problem(
        app.get_as(&alice, &format!("/v1/attachments/{id}")).await,
        404,
        "not-found",
    )
    .await;
}

#[tokio::test]
async fn the_store_down_during_a_confirm_is_503_and_the_confirm_can_be_retried() {
    let mut app = TestApp::spawn_with_attachments().await;
    let alice = project_with_issue(&app).await;
    let content = b"retry me".to_vec();
    let upload: Value = ask_upload(
        &app,
        &alice,
        "ATT-1",
        &json!({"file_name": "r.txt", "size": content.len(), "content_type": "text/plain"}),
    )
    .await
    .json()
    .await
    .unwrap();
    put_to_store(&app, &upload, content).await;
    let id = upload["attachment"]["id"].as_str().unwrap().to_owned();

    app.s3.as_mut().unwrap().stop();
    let down = confirm(&app, &alice, &id).await;
    app.s3.as_mut().unwrap().resume().await;
    let again = confirm(&app, &alice, &id).await;

    assert_problem(down, 503, "service-unavailable").await;
    assert_eq!(again.status(), StatusCode::OK);
    let attachment: Value = again.json().await.unwrap();
    assert_eq!(attachment["state"], "ready");
}

#[tokio::test]
async fn viewers_read_attachments_but_neither_attach_nor_read_the_usage_which_owners_do() {
    let app = TestApp::spawn_with_attachments().await;
    let alice = project_with_issue(&app).await;
    let viola = app.user("viola").await;
    app.add_member(&alice, "ATT", &viola.id, "viewer").await;
    let attachment = attach(
        &app,
        &alice,
        "ATT-1",
        "notes.txt",
        "text/plain",
        b"some notes",
    )
    .await;
    let id = attachment["id"].as_str().unwrap();

    let read = app
        .get_as(&viola.access_token, &format!("/v1/attachments/{id}"))
        .await;
    let attach_as_viewer = ask_upload(
        &app,
        &viola.access_token,
        "ATT-1",
        &json!({"file_name": "v.txt", "size": 1, "content_type": "text/plain"}),
    )
    .await;
    let delete_as_viewer = app
        .delete_as(&viola.access_token, &format!("/v1/attachments/{id}"))
        .await;
    let usage_as_viewer = app
        .get_as(&viola.access_token, "/v1/projects/ATT/attachment-usage")
        .await;
    let usage = app
        .get_ok(&alice, "/v1/projects/ATT/attachment-usage")
        .await;

    assert_eq!(read.status(), StatusCode::OK);
    assert_problem(attach_as_viewer, 403, "forbidden").await;
    assert_problem(delete_as_viewer, 403, "forbidden").await;
    assert_problem(usage_as_viewer, 403, "forbidden").await;
    assert_eq!(usage["project_key"], "ATT");
    assert_eq!(usage["used_bytes"], 10);
    assert_eq!(usage["pending_bytes"], 0);
    assert_eq!(usage["attachment_count"], 1);
    assert_eq!(usage["quota_bytes"], 1024 * 1024 * 1024);
    assert_eq!(usage["max_file_bytes"], 25 * 1024 * 1024);
    assert_eq!(usage["max_per_issue"], 100);
}

#[tokio::test]
async fn the_description_carries_the_attachment_routes_and_limits() {
    let app = TestApp::spawn().await;

    let doc: Value = app.get("/openapi.json").await.json().await.unwrap();

    let schemas = &doc["components"]["schemas"];
    let upload = &schemas["CreateUploadRequest"]["properties"];
    assert_eq!(upload["size"]["minimum"], 1);
    assert_eq!(
        (
            &upload["file_name"]["minLength"],
            &upload["file_name"]["maxLength"]
        ),
        (&json!(1), &json!(255))
    );
    assert_eq!(upload["content_type"]["maxLength"], 255);
    let media_type =
        regex::Regex::new(upload["content_type"]["pattern"].as_str().unwrap()).unwrap();
    assert!(media_type.is_match("image/png"));
    assert!(
        media_type
            .is_match("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    );
    assert!(!media_type.is_match("image"));
    assert!(!media_type.is_match("text/plain; charset=utf-8"));
    let sha = regex::Regex::new(upload["sha256"]["pattern"].as_str().unwrap()).unwrap();
    assert!(sha.is_match(&"a".repeat(64)) && !sha.is_match("abc"));
    assert_eq!(
        schemas["AttachmentState"]["enum"],
        json!(["pending", "ready"])
    );
    assert_eq!(
        schemas["ThumbnailState"]["enum"],
        json!(["none", "ready", "refused"])
    );
    assert!(schemas["Issue"]["properties"]["attachment_count"].is_object());

    let paths = &doc["paths"];
    let list = &paths["/v1/issues/{issue_key}/attachments"]["get"]["parameters"];
    let page_size = list
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "page_size")
        .unwrap();
    assert_eq!(
        (
            &page_size["schema"]["maximum"],
            &page_size["schema"]["default"]
        ),
        (&json!(100), &json!(50))
    );
    let one_step = &paths["/v1/issues/{issue_key}/attachments"]["post"];
    assert!(
        one_step["requestBody"]["content"]["multipart/form-data"].is_object(),
        "{one_step}"
    );
    assert!(one_step["responses"]["413"]["content"]["application/problem+json"].is_object());
    let download = &paths["/v1/attachments/{id}/download"]["get"]["responses"]["303"];
    assert!(download["headers"]["Location"].is_object(), "{download}");
    for (path, method) in [
        ("/v1/issues/{issue_key}/attachments/uploads", "post"),
        ("/v1/attachments/{id}/confirm", "post"),
        ("/v1/attachments/{id}", "get"),
        ("/v1/attachments/{id}", "delete"),
        ("/v1/projects/{key}/attachment-usage", "get"),
    ] {
        let operation = &paths[path][method];
        assert_eq!(operation["tags"], json!(["attachments"]), "{method} {path}");
    }
}
