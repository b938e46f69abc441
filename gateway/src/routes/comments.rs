//! `/v1/issues/{issue_key}/comments` and `/v1/comments/{id}`: discuss an issue (docs/api.md).

use axum::{Json, extract::State, http::StatusCode, response::IntoResponse};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::ToSchema;

use super::{
    Page, PageQuery, json, limits, located, no_content,
    paths::{CommentId, IssueKey},
    required_rfc3339, update_mask,
};
use crate::{
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery, Authenticated, IdempotencyKey},
    state::AppState,
};

/// A comment on an issue.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "01936f91-2b3c-7d4e-9f5a-6b7c8d9e0f1a",
    "issue_key": "SWAT-42",
    "author_id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e",
    "body": "Reproduced on the latest build.",
    "created_at": "2026-11-23T10:00:00Z",
    "updated_at": "2026-11-23T10:00:00Z"
}))]
pub struct Comment {
    #[schema(format = Uuid)]
    pub id: String,
    pub issue_key: String,
    #[schema(format = Uuid)]
    pub author_id: String,
    pub body: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Later than `created_at` once the comment was edited.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl TryFrom<pb::Comment> for Comment {
    type Error = ApiError;

    fn try_from(comment: pb::Comment) -> Result<Self, ApiError> {
        Ok(Comment {
            id: comment.id,
            issue_key: comment.issue_key,
            author_id: comment.author_id,
            body: comment.body,
            created_at: required_rfc3339("comment.created_at", comment.created_at)?,
            updated_at: required_rfc3339("comment.updated_at", comment.updated_at)?,
        })
    }
}

/// The text of a comment, new or edited.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"body": "Reproduced on the latest build."}))]
pub struct CommentRequest {
    #[schema(schema_with = limits::comment_body)]
    pub body: String,
}

/// Reporters and up: comment on an issue.
#[utoipa::path(
    post,
    path = "/v1/issues/{issue_key}/comments",
    tag = "comments",
    security(("bearer" = [])),
    params(
        IssueKey,
        IdempotencyKey,
    ),
    request_body = CommentRequest,
    responses(
        (status = 201, description = "The comment was added", body = Comment,
            headers(("Location" = String, description = "/v1/comments/{id}"))),
        (status = 403, description = "Viewers may not comment"),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
        (status = 422, description = "The body is empty or too long, or the Idempotency-Key was used with another body"),
    ),
)]
pub async fn create_comment(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    IdempotencyKey(request_id): IdempotencyKey,
    ApiJson(body): ApiJson<CommentRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let comment = state
        .issues()
        .create_comment(caller.request(pb::CreateCommentRequest {
            issue_key,
            body: body.body,
            request_id,
        }))
        .await?
        .into_inner();
    located(
        StatusCode::CREATED,
        &format!("/v1/comments/{}", comment.id),
        Json(Comment::try_from(comment)?),
    )
}

/// The comments of an issue, oldest first.
#[utoipa::path(
    get,
    path = "/v1/issues/{issue_key}/comments",
    tag = "comments",
    security(("bearer" = [])),
    params(
        IssueKey,
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of comments, oldest first", body = Page<Comment>),
        (status = 404, description = "No such issue, or the caller is not a member of its project"),
    ),
)]
pub async fn list_comments(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(IssueKey { issue_key }): ApiPath<IssueKey>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<Comment>>, ApiError> {
    let (page_size, page_token) = query.into_pb()?;
    let response = state
        .issues()
        .list_comments(caller.request(pb::ListCommentsRequest {
            issue_key,
            page_size,
            page_token,
        }))
        .await?
        .into_inner();
    Page::json(response.comments, response.next_page_token)
}

/// The author only: change the text of a comment.
#[utoipa::path(
    patch,
    path = "/v1/comments/{id}",
    tag = "comments",
    security(("bearer" = [])),
    params(CommentId),
    request_body = CommentRequest,
    responses(
        (status = 200, description = "The edited comment", body = Comment),
        (status = 403, description = "Only the author may edit a comment"),
        (status = 404, description = "No such comment, or the caller is not a member of its project"),
        (status = 422, description = "The body is empty or too long"),
    ),
)]
pub async fn update_comment(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(CommentId { id }): ApiPath<CommentId>,
    ApiJson(body): ApiJson<CommentRequest>,
) -> Result<Json<Comment>, ApiError> {
    let request = caller.request(pb::UpdateCommentRequest {
        id: id.to_string(),
        body: body.body,
        update_mask: update_mask([("body", true)]),
    });
    json(state.issues().update_comment(request).await)
}

/// Delete a comment: its author, or the project's maintainers and owners.
#[utoipa::path(
    delete,
    path = "/v1/comments/{id}",
    tag = "comments",
    security(("bearer" = [])),
    params(CommentId),
    responses(
        (status = 204, description = "The comment is gone"),
        (status = 403, description = "Only the author, maintainers and owners may delete a comment"),
        (status = 404, description = "No such comment, or the caller is not a member of its project"),
    ),
)]
pub async fn delete_comment(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(CommentId { id }): ApiPath<CommentId>,
) -> Result<StatusCode, ApiError> {
    let request = caller.request(pb::DeleteCommentRequest { id: id.to_string() });
    no_content(state.issues().delete_comment(request).await)
}
