//! Handlers for comments: create (idempotent), list oldest first, edit, delete.

use chrono::Utc;
use sqlx::{Postgres, Transaction};
use swatter_common::{
    auth::UserPrincipal,
    pagination,
    rpc::{
        UpdateMask,
        idempotency::{self, Begin},
        update_mask::Fields,
    },
};
use swatter_proto::issues::v1 as pb;
use tonic::Request;
use uuid::Uuid;

use super::{
    Issues, authorize_locked, caller, check, convert,
    issues::visible_issue,
    notifications::{self, Mentioning},
};
use crate::{
    domain::{Action, Change, CommentBody, authorize},
    error::{IssuesError, Result},
    feed::data,
    store::{self, CommentRow},
};

const NO_COMMENTS: &str = "viewers may not comment";

/// What `UpdateComment`'s `update_mask` may name.
const COMMENT_FIELDS: Fields = Fields {
    updatable: &["body"],
    fixed: &["id", "issue_key", "author_id", "created_at", "updated_at"],
};

/// Loads a comment to edit or delete inside `tx`; malformed ids name nothing. Who may is decided
/// by the caller with [`authorize_locked`] (which hides it from non-members).
async fn comment_to_change(
    tx: &mut Transaction<'_, Postgres>,
    raw_id: &str,
    me: &UserPrincipal,
) -> Result<CommentRow> {
    let id: Uuid = raw_id
        .parse()
        .map_err(|_| IssuesError::NotFound("comment"))?;
    store::comment_by_id(&mut **tx, id, me.id)
        .await?
        .ok_or(IssuesError::NotFound("comment"))
}

pub(super) async fn create_comment(
    issues: &Issues,
    request: Request<pb::CreateCommentRequest>,
) -> Result<pb::Comment> {
    let me = caller(&request)?;
    let mut req = request.into_inner();
    let body = CommentBody::parse("body", &req.body).map_err(IssuesError::invalid)?;
    let issue = visible_issue(issues, &req.issue_key, &me).await?;
    // Early answer (and a replay needs the right too); the check that counts is the one under
    // lock inside the transaction.
    check(
        authorize(issue.my_role, me.admin, Action::CreateComment),
        "issue",
        NO_COMMENTS,
    )?;
    let request_id = std::mem::take(&mut req.request_id);
    let (mut tx, claim) =
        match idempotency::begin(&issues.db, me.id, "create_comment", &request_id, &req).await? {
            Begin::Replay(comment) => return Ok(comment),
            Begin::Proceed(tx, claim) => (tx, claim),
        };
    authorize_locked(
        &mut tx,
        &issue.project_key,
        &me,
        Action::CreateComment,
        "issue",
        NO_COMMENTS,
    )
    .await?;
    let id = Uuid::now_v7();
    store::insert_comment(&mut *tx, id, issue.id, me.id, body.as_str()).await?;
    store::touch_issue(&mut *tx, issue.id).await?;
    store::insert_events(
        &mut *tx,
        issue.id,
        me.id,
        &[Change::comment_added(id)],
        Utc::now(),
    )
    .await?;
    let mentioning = Mentioning {
        project_id: issue.project_id,
        issue_id: issue.id,
        change_type: "comment.created",
        old: "",
        new: body.as_str(),
    };
    notifications::notify_mentions(&mut tx, &me, mentioning).await?;
    let row = store::comment_by_id(&mut *tx, id, me.id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("created comment not found"))?;
    let comment = convert::comment(row);
    store::append_change(
        &mut tx,
        issue.project_id,
        "comment.created",
        &data::comment(&comment),
    )
    .await?;
    claim.complete(&mut tx, &comment).await?;
    tx.commit().await?;
    issues.feed.changed(issue.project_id);
    Ok(comment)
}

pub(super) async fn list_comments(
    issues: &Issues,
    request: Request<pb::ListCommentsRequest>,
) -> Result<pb::ListCommentsResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    let (limit, after) =
        pagination::time_page(req.page_size, &req.page_token).map_err(IssuesError::invalid)?;
    let issue = visible_issue(issues, &req.issue_key, &me).await?;
    let mut rows = store::list_comments(&issues.db, issue.id, after, limit + 1).await?;
    let next_page_token = pagination::next_time_token(&mut rows, limit, |c| (c.created_at, c.id));
    Ok(pb::ListCommentsResponse {
        comments: rows.into_iter().map(convert::comment).collect(),
        next_page_token,
    })
}

pub(super) async fn update_comment(
    issues: &Issues,
    request: Request<pb::UpdateCommentRequest>,
) -> Result<pb::Comment> {
    let me = caller(&request)?;
    let req = request.into_inner();
    // A comment has one field to change, so every valid mask names it.
    UpdateMask::parse(req.update_mask.as_ref(), COMMENT_FIELDS).map_err(IssuesError::invalid)?;
    let body = CommentBody::parse("body", &req.body).map_err(IssuesError::invalid)?;
    let mut tx = issues.db.begin().await?;
    let comment = comment_to_change(&mut tx, &req.id, &me).await?;
    let is_author = comment.author_id == me.id;
    authorize_locked(
        &mut tx,
        &comment.project_key,
        &me,
        Action::EditComment { is_author },
        "comment",
        "only the author may edit a comment",
    )
    .await?;
    store::update_comment(&mut *tx, comment.id, body.as_str()).await?;
    let mentioning = Mentioning {
        project_id: comment.project_id,
        issue_id: comment.issue_id,
        change_type: "comment.updated",
        old: &comment.body,
        new: body.as_str(),
    };
    notifications::notify_mentions(&mut tx, &me, mentioning).await?;
    let row = store::comment_by_id(&mut *tx, comment.id, me.id)
        .await?
        .ok_or(IssuesError::NotFound("comment"))?;
    let updated = convert::comment(row);
    store::append_change(
        &mut tx,
        comment.project_id,
        "comment.updated",
        &data::comment(&updated),
    )
    .await?;
    tx.commit().await?;
    issues.feed.changed(comment.project_id);
    Ok(updated)
}

pub(super) async fn delete_comment(
    issues: &Issues,
    request: Request<pb::DeleteCommentRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let mut tx = issues.db.begin().await?;
    let comment = comment_to_change(&mut tx, &request.get_ref().id, &me).await?;
    let is_author = comment.author_id == me.id;
    authorize_locked(
        &mut tx,
        &comment.project_key,
        &me,
        Action::DeleteComment { is_author },
        "comment",
        "only the author, maintainers and owners may delete a comment",
    )
    .await?;
    store::delete_comment(&mut *tx, comment.id).await?;
    store::touch_issue(&mut *tx, comment.issue_id).await?;
    store::insert_events(
        &mut *tx,
        comment.issue_id,
        me.id,
        &[Change::comment_removed(comment.id)],
        Utc::now(),
    )
    .await?;
    store::append_change(
        &mut tx,
        comment.project_id,
        "comment.deleted",
        &data::deleted_comment(&comment.id.to_string(), &comment.issue_key),
    )
    .await?;
    tx.commit().await?;
    issues.feed.changed(comment.project_id);
    Ok(())
}
