//! `/v1/issues/{issue_key}/attachments…`, `/v1/attachments/{id}…` and
//! `/v1/projects/{key}/attachment-usage`: files attached to issues and comments (docs/api.md,
//! "Attachments"). The bytes go straight between the client and the object store (a presigned
//! PUT, then a confirm; downloads are a redirect to a presigned GET), except on the one-step
//! multipart upload of small files, the only route whose body may be larger than 1 MiB.

use std::collections::BTreeMap;

use axum::{
    Json, RequestExt,
    extract::{FromRequest, Request, State},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::{IntoParams, ToSchema};

use super::{
    Page, broken_answer, header_value, json, limits, located, no_content, page_size,
    paths::{AttachmentId, IssueKey, ProjectKey},
    required_rfc3339, rfc3339,
    wire::{AttachmentState, ThumbnailState},
};
use crate::{
    error::{ApiError, FieldError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated},
    openapi::problem_example,
    state::AppState,
};

/// Largest file of the one-step upload (the issues service holds the same bound).
pub const MAX_ONE_STEP_BYTES: usize = 10 * 1024 * 1024;
/// Largest body of the one-step upload: the file, its form framing and the small fields.
pub const MAX_UPLOAD_BODY_BYTES: usize = MAX_ONE_STEP_BYTES + 64 * 1024;
/// Longest text field of the one-step upload form (`comment_id`, `sha256`).
const MAX_FORM_TEXT_BYTES: u64 = 1024;
/// Page size of attachment lists when the client asks for none (the service's default too).
pub const DEFAULT_ATTACHMENT_PAGE_SIZE: u32 = 50;

/// A file attached to an issue or to one of its comments.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01937a2e-4b5c-7d6e-8f90-a1b2c3d4e5f6",
    "issue_key": "SWAT-42",
    "comment_id": null,
    "file_name": "login-error.png",
    "content_type": "image/png",
    "size": 48213,
    "sha256": "3b7e5a0c9d1f2e4a6b8c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a",
    "state": "ready",
    "uploaded_by": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "created_at": "2026-12-01T10:00:00Z",
    "confirmed_at": "2026-12-01T10:00:02Z",
    "expires_at": null,
    "thumbnail": {
        "state": "ready",
        "url": "https://s3.example.com/swatter-attachments/thumbnails/01937a2e-4b5c-7d6e-8f90-a1b2c3d4e5f6.png?X-Amz-Signature=…",
        "width": 256,
        "height": 160,
        "url_expires_at": "2026-12-01T10:05:02Z"
    }
}))]
pub struct Attachment {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(schema_with = limits::issue_key)]
    pub issue_key: String,
    /// The comment it belongs to; `null` when it belongs to the issue itself.
    #[schema(format = Uuid, required = true)]
    pub comment_id: Option<String>,
    /// Sanitized: no path, no control characters, no bidirectional controls.
    pub file_name: String,
    /// What downloads are served as: the type sniffed from the content once confirmed (active
    /// content such as HTML or SVG is served as `text/plain`); the declared one while pending.
    pub content_type: String,
    /// Bytes.
    #[schema(minimum = 1)]
    pub size: i64,
    /// Lower-case hex SHA-256 of the content, computed at confirm; while pending the declared
    /// one, or `null` when none was declared.
    #[schema(required = true, pattern = "^[0-9a-f]{64}$")]
    pub sha256: Option<String>,
    pub state: AttachmentState,
    /// Who uploaded it.
    #[schema(format = Uuid)]
    pub uploaded_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When it was confirmed; `null` while pending.
    #[schema(format = DateTime, required = true)]
    pub confirmed_at: Option<String>,
    /// While pending: when the upload is swept (row and object) if not confirmed; `null` once
    /// ready.
    #[schema(format = DateTime, required = true)]
    pub expires_at: Option<String>,
    /// Its thumbnail; `null` while pending.
    #[schema(required = true)]
    pub thumbnail: Option<Thumbnail>,
}

/// The thumbnail of an image attachment (PNG, longest side at most 256 px).
#[derive(Debug, Serialize, ToSchema)]
pub struct Thumbnail {
    pub state: ThumbnailState,
    /// A presigned GET of the PNG thumbnail, while `state` is `ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Pixels, while `state` is `ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 256)]
    pub width: Option<i32>,
    /// Pixels, while `state` is `ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 1, maximum = 256)]
    pub height: Option<i32>,
    /// When `url` stops working; ask for the attachment again for a fresh one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub url_expires_at: Option<String>,
}

impl TryFrom<pb::Thumbnail> for Thumbnail {
    type Error = ApiError;

    fn try_from(thumbnail: pb::Thumbnail) -> Result<Self, ApiError> {
        let state = ThumbnailState::from_pb(thumbnail.state)
            .ok_or_else(|| broken_answer("thumbnail.state"))?;
        if state != ThumbnailState::Ready {
            return Ok(Thumbnail {
                state,
                url: None,
                width: None,
                height: None,
                url_expires_at: None,
            });
        }
        Ok(Thumbnail {
            state,
            url: Some(thumbnail.url),
            width: Some(thumbnail.width),
            height: Some(thumbnail.height),
            url_expires_at: Some(required_rfc3339(
                "thumbnail.url_expires_at",
                thumbnail.url_expires_at,
            )?),
        })
    }
}

impl TryFrom<pb::Attachment> for Attachment {
    type Error = ApiError;

    fn try_from(attachment: pb::Attachment) -> Result<Self, ApiError> {
        let state = AttachmentState::from_pb(attachment.state)
            .ok_or_else(|| broken_answer("attachment.state"))?;
        // A pending attachment has no thumbnail yet, whatever the service left in the field.
        let thumbnail = match (state, attachment.thumbnail) {
            (AttachmentState::Ready, Some(thumbnail)) => Some(thumbnail.try_into()?),
            (AttachmentState::Ready, None) => return Err(broken_answer("attachment.thumbnail")),
            (AttachmentState::Pending, _) => None,
        };
        Ok(Attachment {
            id: attachment.id,
            issue_key: attachment.issue_key,
            comment_id: Some(attachment.comment_id).filter(|id| !id.is_empty()),
            file_name: attachment.file_name,
            content_type: attachment.content_type,
            size: attachment.size,
            sha256: Some(attachment.sha256).filter(|sha| !sha.is_empty()),
            state,
            uploaded_by: attachment.uploaded_by,
            created_at: required_rfc3339("attachment.created_at", attachment.created_at)?,
            confirmed_at: attachment.confirmed_at.and_then(rfc3339),
            expires_at: attachment.expires_at.and_then(rfc3339),
            thumbnail,
        })
    }
}

/// An upload to make: a presigned request for the object store, and the pending attachment it
/// fills. Confirm it (`POST /v1/attachments/{id}/confirm`) once the upload succeeded.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "attachment": {
        "id": "01937a2e-4b5c-7d6e-8f90-a1b2c3d4e5f6",
        "issue_key": "SWAT-42",
        "comment_id": null,
        "file_name": "login-error.png",
        "content_type": "image/png",
        "size": 48213,
        "sha256": null,
        "state": "pending",
        "uploaded_by": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
        "created_at": "2026-12-01T10:00:00Z",
        "confirmed_at": null,
        "expires_at": "2026-12-01T11:00:00Z",
        "thumbnail": null
    },
    "method": "PUT",
    "url": "https://s3.example.com/swatter-attachments/attachments/01937a2e-4b5c-7d6e-8f90-a1b2c3d4e5f6?X-Amz-Algorithm=AWS4-HMAC-SHA256&…",
    "headers": {"content-length": "48213", "content-type": "image/png"},
    "url_expires_at": "2026-12-01T10:05:00Z"
}))]
pub struct Upload {
    /// The pending attachment (seen by its uploader only until confirmed).
    pub attachment: Attachment,
    /// The method of the upload: `PUT`.
    pub method: String,
    /// The presigned URL to upload the file's bytes to, as the request body.
    pub url: String,
    /// Headers the upload must send exactly as given (`Content-Length`, `Content-Type`): they
    /// are signed, so another length or type is refused by the store.
    pub headers: BTreeMap<String, String>,
    /// When `url` stops working (the attachment stays pending until `attachment.expires_at`).
    #[schema(format = DateTime)]
    pub url_expires_at: String,
}

impl TryFrom<pb::Upload> for Upload {
    type Error = ApiError;

    fn try_from(upload: pb::Upload) -> Result<Self, ApiError> {
        let attachment = upload
            .attachment
            .ok_or_else(|| broken_answer("upload.attachment"))?;
        Ok(Upload {
            attachment: attachment.try_into()?,
            method: upload.method,
            url: upload.url,
            headers: upload.headers.into_iter().collect(),
            url_expires_at: required_rfc3339("upload.url_expires_at", upload.url_expires_at)?,
        })
    }
}

/// A file to upload (the first of the two steps).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "file_name": "login-error.png",
    "size": 48213,
    "content_type": "image/png",
    "sha256": "3b7e5a0c9d1f2e4a6b8c0d2e4f6a8b0c1d3e5f7a9b1c3d5e7f9a1b3c5d7e9f1a"
}))]
pub struct CreateUploadRequest {
    #[schema(schema_with = limits::file_name)]
    pub file_name: String,
    #[schema(schema_with = limits::upload_size)]
    pub size: i64,
    #[schema(schema_with = limits::media_type)]
    pub content_type: String,
    #[schema(schema_with = limits::sha256, required = false)]
    pub sha256: Option<String>,
    #[schema(schema_with = limits::attachment_comment_id, required = false)]
    pub comment_id: Option<uuid::Uuid>,
}

/// The one-step upload's form (`multipart/form-data`), as the OpenAPI description shows it.
/// No other part is taken (`additionalProperties: false`; an unknown part is 422).
#[derive(Debug, ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadAttachmentForm {
    /// The file, with its `filename` (the attachment's name) and, optionally, its
    /// `Content-Type` (`application/octet-stream` or none: taken from the content). At most
    /// 10 MiB.
    #[schema(value_type = String, format = Binary, content_media_type = "application/octet-stream")]
    pub file: Vec<u8>,
    /// Attach to this comment of the issue instead of the issue itself.
    #[schema(format = Uuid)]
    pub comment_id: Option<String>,
    /// 64 hexadecimal digits the content must hash to.
    #[schema(pattern = "^[0-9a-fA-F]{64}$")]
    pub sha256: Option<String>,
}

/// `?comment_id=&page_size=&page_token=` of an issue's attachments.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttachmentListQuery {
    /// Only the attachments of this comment of the issue; absent: the issue's and all its
    /// comments'.
    #[param(value_type = Option<String>, format = Uuid)]
    #[serde(default, deserialize_with = "super::fields::empty_as_none")]
    pub comment_id: Option<uuid::Uuid>,
    /// 1–100, default 50.
    #[param(minimum = 1, maximum = 100, default = 50)]
    #[serde(default, deserialize_with = "super::fields::empty_as_none")]
    pub page_size: Option<u32>,
    /// `next_page_token` of the previous page.
    #[param(max_length = 512)]
    pub page_token: Option<String>,
}

/// A project's attachment storage against its limits.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "project_key": "SWAT",
    "used_bytes": 73400320,
    "pending_bytes": 48213,
    "quota_bytes": 1073741824,
    "attachment_count": 212,
    "max_file_bytes": 26214400,
    "max_per_issue": 100
}))]
pub struct AttachmentUsage {
    #[schema(schema_with = limits::project_key)]
    pub project_key: String,
    /// Bytes of confirmed attachments.
    #[schema(minimum = 0)]
    pub used_bytes: i64,
    /// Bytes reserved by uploads not yet confirmed (they count against the quota).
    #[schema(minimum = 0)]
    pub pending_bytes: i64,
    /// Bytes the project may hold, pending uploads included (`SWATTER_ATTACHMENT_QUOTA_BYTES`).
    #[schema(minimum = 0)]
    pub quota_bytes: i64,
    /// Confirmed attachments.
    #[schema(minimum = 0)]
    pub attachment_count: i64,
    /// The largest file (`SWATTER_ATTACHMENT_MAX_BYTES`).
    #[schema(minimum = 1)]
    pub max_file_bytes: i64,
    /// Most attachments an issue may have, its comments' included
    /// (`SWATTER_ATTACHMENTS_PER_ISSUE`).
    #[schema(minimum = 1)]
    pub max_per_issue: i32,
}

impl From<pb::AttachmentUsage> for AttachmentUsage {
    fn from(usage: pb::AttachmentUsage) -> Self {
        AttachmentUsage {
            project_key: usage.project_key,
            used_bytes: usage.used_bytes,
            pending_bytes: usage.pending_bytes,
            quota_bytes: usage.quota_bytes,
            attachment_count: usage.attachment_count,
            max_file_bytes: usage.max_file_bytes,
            max_per_issue: usage.max_per_issue,
        }
    }
}

/// The `Location` of an attachment.
fn location(attachment: &Attachment) -> String {
    format!("/v1/attachments/{}", attachment.id)
}

/// Whoever may comment on the issue: ask to upload a file to it (or to one of its comments).
/// The answer is a presigned PUT to make, then confirm.
#[utoipa::path(
    post,
    path = "/v1/issues/{issue_key}/attachments/uploads",
    tag = "attachments",
    security(("bearer" = [])),
    params(IssueKey),
    request_body = CreateUploadRequest,
    responses(
        (status = 201, description = "The pending attachment and the upload to make: `PUT` the file's bytes to `url` with exactly `headers`, before `url_expires_at`, then confirm",
            body = Upload,
            headers(("Location" = String, description = "/v1/attachments/{id}"))),
        (status = 403, description = "Viewers may not attach files"),
        (status = 404, description = "No such issue (or comment of it), or the caller is not a member of its project"),
        (status = 409, description = "The issue already has as many attachments as allowed, or the project's quota would be exceeded (the detail says by how much)"),
        (status = 422, description = "A bad file name, size (0, or over the per-file limit), content type, SHA-256 or comment id",
            body = Problem, content_type = PROBLEM_JSON,
            example = json!(problem_example(ProblemKind::Validation, "size", "must be between 1 and 26214400 bytes"))),
    ),
)]
pub async fn create_upload(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    ApiJson(body): ApiJson<CreateUploadRequest>,
) -> Result<Response, ApiError> {
    let upload = state
        .issues()
        .create_upload(caller.request(pb::CreateUploadRequest {
            issue_key,
            comment_id: body.comment_id.map(|id| id.to_string()).unwrap_or_default(),
            file_name: body.file_name,
            size: body.size,
            content_type: body.content_type,
            sha256: body.sha256.unwrap_or_default(),
        }))
        .await?
        .into_inner();
    let upload = Upload::try_from(upload)?;
    located(
        StatusCode::CREATED,
        &location(&upload.attachment),
        Json(upload),
    )
}

/// The uploader: confirm an upload once its bytes are in the store. The object is checked
/// (size, SHA-256 if one was declared, type sniffed from its first bytes) and only then shown.
#[utoipa::path(
    post,
    path = "/v1/attachments/{id}/confirm",
    tag = "attachments",
    security(("bearer" = [])),
    params(AttachmentId),
    responses(
        (status = 200, description = "The attachment, now ready (with its thumbnail state)", body = Attachment),
        (status = 404, description = "No such pending upload of the caller's: unknown, someone else's, or swept after it expired"),
        (status = 409, description = "The attachment was confirmed already; or nothing was uploaded yet (upload, then confirm again); or the upload URL expired before anything was uploaded (the upload is deleted: ask for a new one)"),
        (status = 422, description = "The object is not what was declared: another size, a SHA-256 mismatch, a type the content contradicts. The upload is deleted (with its object): ask for a new one",
            body = Problem, content_type = PROBLEM_JSON,
            example = json!(problem_example(ProblemKind::Validation, "content_type", "the content is a PDF, not image/png"))),
        (status = 503, description = "The object store is unavailable; the upload stays pending, confirm again later"),
    ),
)]
pub async fn confirm_upload(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(AttachmentId { id }): ApiPath<AttachmentId>,
) -> Result<Json<Attachment>, ApiError> {
    let request = caller.request(pb::ConfirmUploadRequest { id: id.to_string() });
    json(state.issues().confirm_upload(request).await)
}

/// The one-step upload's form, read as it arrives (at most 10 MiB of file).
#[derive(Debug)]
pub struct UploadForm {
    file_name: String,
    /// The part's declared type without parameters; empty when none or
    /// `application/octet-stream` (the service then takes the type from the content).
    content_type: String,
    content: Bytes,
    comment_id: String,
    sha256: String,
}

/// 413 about the file of the one-step upload.
fn file_too_large() -> ApiError {
    let message = format!(
        "must be at most {MAX_ONE_STEP_BYTES} bytes (10 MiB) here; upload larger files with a \
         presigned request (POST /v1/issues/{{issue_key}}/attachments/uploads)"
    );
    ApiError::new(ProblemKind::PayloadTooLarge, format!("file: {message}")).with_errors(vec![
        FieldError {
            field: "file".to_owned(),
            message,
        },
    ])
}

/// The problem a form that cannot be read is.
fn form_error(error: multer::Error) -> ApiError {
    use multer::Error as E;
    match error {
        E::FieldSizeExceeded { field_name, .. } if field_name.as_deref() == Some("file") => {
            file_too_large()
        }
        E::FieldSizeExceeded { field_name, .. } => ApiError::invalid_field(
            field_name.unwrap_or_default(),
            format!("must be at most {MAX_FORM_TEXT_BYTES} bytes"),
        ),
        E::StreamSizeExceeded { .. } => file_too_large(),
        E::StreamReadFailed(cause) if is_length_limit(cause.as_ref()) => file_too_large(),
        E::UnknownField { field_name } => ApiError::invalid_field(
            field_name.unwrap_or_default(),
            "is not a known field (the form takes file, comment_id and sha256)",
        ),
        E::DecodeContentType(_) => {
            ApiError::invalid_field("file", "has a Content-Type that is not a media type")
        }
        E::StreamReadFailed(_) => ApiError::malformed_body("the request body could not be read"),
        other => ApiError::malformed_body(format!(
            "the multipart/form-data body is malformed: {other}"
        )),
    }
}

/// Whether reading the body stopped at the route's body limit.
fn is_length_limit(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

impl<S: Send + Sync> FromRequest<S> for UploadForm {
    type Rejection = ApiError;

    async fn from_request(request: Request, _state: &S) -> Result<Self, ApiError> {
        let boundary = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| multer::parse_boundary(value).ok())
            .ok_or_else(|| {
                ApiError::new(
                    ProblemKind::UnsupportedMediaType,
                    "the body must be multipart/form-data (with its boundary) holding the file \
                     as the field `file`",
                )
            })?;
        // A body announced too large is refused before a byte of it is read.
        let announced = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
        if announced.is_some_and(|length| length > MAX_UPLOAD_BODY_BYTES as u64) {
            return Err(file_too_large());
        }
        let constraints = multer::Constraints::new()
            .allowed_fields(vec!["file", "comment_id", "sha256"])
            .size_limit(
                multer::SizeLimit::new()
                    .whole_stream(MAX_UPLOAD_BODY_BYTES as u64)
                    .per_field(MAX_FORM_TEXT_BYTES)
                    .for_field("file", MAX_ONE_STEP_BYTES as u64),
            );
        let body = request.with_limited_body().into_body().into_data_stream();
        let mut form = multer::Multipart::with_constraints(body, boundary, constraints);

        let mut file: Option<(String, String, Bytes)> = None;
        let mut comment_id: Option<String> = None;
        let mut sha256: Option<String> = None;
        while let Some(field) = form.next_field().await.map_err(form_error)? {
            let name = field.name().unwrap_or_default().to_owned();
            let given_twice = || ApiError::invalid_field(name.clone(), "is given more than once");
            match name.as_str() {
                "file" => {
                    if file.is_some() {
                        return Err(given_twice());
                    }
                    let file_name = field.file_name().map(str::to_owned).ok_or_else(|| {
                        ApiError::invalid_field(
                            "file",
                            "must be a file with its filename (Content-Disposition: form-data; \
                             name=\"file\"; filename=\"…\")",
                        )
                    })?;
                    let content_type = field
                        .content_type()
                        .map(|mime| mime.essence_str().to_owned())
                        .filter(|essence| essence != "application/octet-stream")
                        .unwrap_or_default();
                    let content = field.bytes().await.map_err(form_error)?;
                    file = Some((file_name, content_type, content));
                }
                _ => {
                    let slot = if name == "comment_id" {
                        &mut comment_id
                    } else {
                        &mut sha256
                    };
                    if slot.is_some() {
                        return Err(given_twice());
                    }
                    let text = field.text().await.map_err(form_error)?;
                    *slot = Some(text);
                }
            }
        }
        let (file_name, content_type, content) =
            file.ok_or_else(|| ApiError::invalid_field("file", "is required"))?;
        let comment_id = match comment_id.as_deref() {
            None | Some("") => String::new(),
            Some(raw) => raw
                .parse::<uuid::Uuid>()
                .map_err(|_| ApiError::invalid_field("comment_id", "must be a UUID"))?
                .to_string(),
        };
        Ok(UploadForm {
            file_name,
            content_type,
            content,
            comment_id,
            sha256: sha256.unwrap_or_default(),
        })
    }
}

/// The field of the one-step form that a field of `UploadAttachment` came from: the file part
/// carries the name, the declared type and the content.
fn form_field(field: &str) -> Option<&'static str> {
    matches!(field, "file_name" | "content_type" | "content").then_some("file")
}

/// Whoever may comment on the issue: attach a small file (at most 10 MiB) in one request, sent
/// through the gateway as `multipart/form-data`. Larger files, and clients that can, use the
/// presigned upload.
#[utoipa::path(
    post,
    path = "/v1/issues/{issue_key}/attachments",
    tag = "attachments",
    security(("bearer" = [])),
    params(IssueKey),
    request_body(content = UploadAttachmentForm, content_type = "multipart/form-data",
        description = "The field `file` (required, with its filename), and optionally `comment_id` and `sha256`"),
    responses(
        (status = 201, description = "The attachment, ready (with its thumbnail state)", body = Attachment,
            headers(("Location" = String, description = "/v1/attachments/{id}"))),
        (status = 400, description = "The multipart body is malformed"),
        (status = 403, description = "Viewers may not attach files"),
        (status = 404, description = "No such issue (or comment of it), or the caller is not a member of its project"),
        (status = 409, description = "The issue already has as many attachments as allowed, or the project's quota would be exceeded"),
        (status = 413, description = "The file is over 10 MiB (use the presigned upload)",
            body = Problem, content_type = PROBLEM_JSON,
            example = json!(problem_example(ProblemKind::PayloadTooLarge, "file", "must be at most 10485760 bytes (10 MiB) here"))),
        (status = 415, description = "The body is not multipart/form-data"),
        (status = 422, description = "No `file`, an unknown or repeated field, or a bad file name, type, SHA-256 (or a mismatch) or comment id",
            body = Problem, content_type = PROBLEM_JSON,
            example = json!(problem_example(ProblemKind::Validation, "file", "is required"))),
        (status = 503, description = "The object store is unavailable; nothing was attached, send the file again later"),
    ),
)]
pub async fn upload_attachment(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    form: UploadForm,
) -> Result<Response, ApiError> {
    let attachment = state
        .issues()
        .upload_attachment(caller.request(pb::UploadAttachmentRequest {
            issue_key,
            comment_id: form.comment_id,
            file_name: form.file_name,
            content_type: form.content_type,
            content: form.content.into(),
            sha256: form.sha256,
        }))
        .await
        .map_err(|status| ApiError::from_status(&status).with_fields_renamed(form_field))?
        .into_inner();
    let attachment = Attachment::try_from(attachment)?;
    located(
        StatusCode::CREATED,
        &location(&attachment),
        Json(attachment),
    )
}

/// Members: the ready attachments of an issue and of its comments (and the caller's own pending
/// uploads), oldest first.
#[utoipa::path(
    get,
    path = "/v1/issues/{issue_key}/attachments",
    tag = "attachments",
    security(("bearer" = [])),
    params(IssueKey, AttachmentListQuery),
    responses(
        (status = 200, description = "One page of attachments, oldest first", body = Page<Attachment>),
        (status = 404, description = "No such issue (or comment of it), or the caller is not a member of its project"),
    ),
)]
pub async fn list_attachments(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    ApiQuery(query): ApiQuery<AttachmentListQuery>,
) -> Result<Json<Page<Attachment>>, ApiError> {
    let response = state
        .issues()
        .list_attachments(
            caller.request(pb::ListAttachmentsRequest {
                issue_key,
                comment_id: query
                    .comment_id
                    .map(|id| id.to_string())
                    .unwrap_or_default(),
                page_size: page_size(query.page_size)?,
                page_token: query.page_token.unwrap_or_default(),
            }),
        )
        .await?
        .into_inner();
    Page::json(response.attachments, response.next_page_token)
}

/// Members: one attachment.
#[utoipa::path(
    get,
    path = "/v1/attachments/{id}",
    tag = "attachments",
    security(("bearer" = [])),
    params(AttachmentId),
    responses(
        (status = 200, description = "The attachment", body = Attachment),
        (status = 404, description = "No such attachment (another user's pending upload included), or the caller is not a member of its project"),
    ),
)]
pub async fn get_attachment(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(AttachmentId { id }): ApiPath<AttachmentId>,
) -> Result<Json<Attachment>, ApiError> {
    let request = caller.request(pb::GetAttachmentRequest { id: id.to_string() });
    json(state.issues().get_attachment(request).await)
}

/// Members: download an attachment. The answer is a redirect to a short-lived presigned GET of
/// the object store, which serves the file as a download (`Content-Disposition: attachment`
/// with its name) of the type sniffed from its content (active content as `text/plain`).
#[utoipa::path(
    get,
    path = "/v1/attachments/{id}/download",
    tag = "attachments",
    security(("bearer" = [])),
    params(AttachmentId),
    responses(
        (status = 303, description = "Download the file from `Location`, without the `Authorization` header (the URL is signed; it works for a few minutes)",
            headers(
                ("Location" = String, description = "The presigned GET of the file"),
                ("Cache-Control" = String, description = "`no-store`: the URL expires"),
            )),
        (status = 404, description = "No such ready attachment, or the caller is not a member of its project"),
    ),
)]
pub async fn download_attachment(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(AttachmentId { id }): ApiPath<AttachmentId>,
) -> Result<Response, ApiError> {
    let download = state
        .issues()
        .get_attachment_download(
            caller.request(pb::GetAttachmentDownloadRequest { id: id.to_string() }),
        )
        .await?
        .into_inner();
    if download.url.is_empty() {
        return Err(broken_answer("attachment_download.url"));
    }
    Ok((
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, header_value(&download.url)?),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
    )
        .into_response())
}

/// The uploader, the project's maintainers and owners: delete an attachment (its objects go
/// from the store too).
#[utoipa::path(
    delete,
    path = "/v1/attachments/{id}",
    tag = "attachments",
    security(("bearer" = [])),
    params(AttachmentId),
    responses(
        (status = 204, description = "The attachment is gone"),
        (status = 403, description = "Only the uploader, maintainers and owners may delete an attachment"),
        (status = 404, description = "No such attachment, or the caller is not a member of its project"),
    ),
)]
pub async fn delete_attachment(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(AttachmentId { id }): ApiPath<AttachmentId>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DeleteAttachmentRequest { id: id.to_string() });
    no_content(state.issues().delete_attachment(request).await)
}

/// Owners: the project's attachment storage (used, pending, quota) and the limits that apply.
#[utoipa::path(
    get,
    path = "/v1/projects/{key}/attachment-usage",
    tag = "attachments",
    security(("bearer" = [])),
    params(ProjectKey),
    responses(
        (status = 200, description = "The project's attachment storage", body = AttachmentUsage),
        (status = 403, description = "Only the project's owners may read its storage use"),
        (status = 404, description = "No such project, or the caller is not a member of it"),
    ),
)]
pub async fn get_attachment_usage(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key }): ApiPath<ProjectKey>,
) -> Result<Json<AttachmentUsage>, ApiError> {
    let usage = state
        .issues()
        .get_attachment_usage(caller.request(pb::GetAttachmentUsageRequest { project_key: key }))
        .await?
        .into_inner();
    Ok(Json(usage.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(thumbnail: Option<pb::Thumbnail>) -> pb::Attachment {
        pb::Attachment {
            id: "01937a2e-4b5c-7d6e-8f90-a1b2c3d4e5f6".into(),
            issue_key: "SWAT-1".into(),
            file_name: "a.png".into(),
            content_type: "image/png".into(),
            size: 3,
            sha256: "ab".repeat(32),
            state: pb::AttachmentState::Ready as i32,
            uploaded_by: "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e".into(),
            created_at: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 0,
            }),
            thumbnail,
            ..Default::default()
        }
    }

    #[test]
    fn a_ready_attachment_shows_its_thumbnail_and_a_pending_one_none() {
        let thumbnail = pb::Thumbnail {
            state: pb::ThumbnailState::Refused as i32,
            ..Default::default()
        };
        let shown = Attachment::try_from(ready(Some(thumbnail.clone()))).unwrap();
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(json["thumbnail"], serde_json::json!({"state": "refused"}));
        assert_eq!(json["comment_id"], serde_json::Value::Null);

        let mut pending = ready(Some(thumbnail));
        pending.state = pb::AttachmentState::Pending as i32;
        pending.sha256 = String::new();
        let json = serde_json::to_value(Attachment::try_from(pending).unwrap()).unwrap();
        assert_eq!(json["state"], "pending");
        assert_eq!(json["thumbnail"], serde_json::Value::Null);
        assert_eq!(json["sha256"], serde_json::Value::Null);
    }

    #[test]
    fn an_attachment_without_a_known_state_is_a_broken_answer() {
        let mut unknown = ready(None);
        unknown.state = 0;
        assert_eq!(
            Attachment::try_from(unknown).unwrap_err().kind(),
            ProblemKind::Internal
        );
        assert_eq!(
            Attachment::try_from(ready(None)).unwrap_err().kind(),
            ProblemKind::Internal
        );
    }

    #[test]
    fn an_oversized_file_is_a_413_naming_the_file() {
        let error = form_error(multer::Error::FieldSizeExceeded {
            limit: MAX_ONE_STEP_BYTES as u64,
            field_name: Some("file".into()),
        });
        assert_eq!(error.kind(), ProblemKind::PayloadTooLarge);
        assert_eq!(error.errors()[0].field, "file");
        let error = form_error(multer::Error::FieldSizeExceeded {
            limit: MAX_FORM_TEXT_BYTES,
            field_name: Some("sha256".into()),
        });
        assert_eq!(error.kind(), ProblemKind::Validation);
        assert_eq!(error.errors()[0].field, "sha256");
    }
}
