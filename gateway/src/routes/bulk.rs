//! `POST /v1/projects/{key}/issues/bulk`: change up to 500 issues of a project at once, all or
//! nothing, with a dry run (docs/api.md, "Bulk edits").

use std::collections::BTreeMap;

use axum::{Json, extract::State};
use serde::{Deserialize, Serialize};
use swatter_proto::issues::v1 as pb;
use utoipa::ToSchema;

use super::{
    fields::{not_null, nullable},
    issues::Issue,
    limits,
    paths::ProjectKey,
    wire::{IssueStatus, Priority, Resolution},
};
use crate::{
    error::{ApiError, FieldError, PROBLEM_JSON, Problem, ProblemKind},
    extract::{ApiJson, ApiPath, Authenticated, IdempotencyKey},
    openapi::problem_example,
    state::AppState,
};

/// What a bulk edit sets on every issue; absent fields are left as they are.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "closed", "resolution": "wont_fix", "assignee_id": null}))]
pub struct BulkSet {
    /// May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = IssueStatus, required = false)]
    pub status: Option<IssueStatus>,
    /// Only for issues that end up `resolved` or `closed` (422 naming the others). May not be
    /// `null`: reopening clears it.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Resolution, required = false)]
    pub resolution: Option<Resolution>,
    /// May not be `null`.
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = Priority, required = false)]
    pub priority: Option<Priority>,
    /// `null` unassigns.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::assignee_id, required = false)]
    pub assignee_id: Option<Option<String>>,
    /// `null` detaches from the milestone.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::bulk_milestone_id, required = false)]
    pub milestone_id: Option<Option<String>>,
    /// `null` clears the due date.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(schema_with = limits::bulk_due_on, required = false)]
    pub due_on: Option<Option<String>>,
}

/// A bulk edit. It must ask for some change (in `set`, `add_labels` or `remove_labels`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "issue_keys": ["SWAT-12", "SWAT-14", "SWAT-15"],
    "set": {"status": "closed", "resolution": "wont_fix", "milestone_id": null},
    "add_labels": ["triaged"],
    "remove_labels": ["needs-info"],
    "expected_versions": {"SWAT-12": 3},
    "dry_run": true
}))]
pub struct BulkEditRequest {
    #[schema(schema_with = limits::bulk_issue_keys)]
    pub issue_keys: Vec<String>,
    #[serde(default)]
    pub set: Option<BulkSet>,
    /// Added to every issue that lacks them.
    #[serde(default)]
    #[schema(schema_with = limits::bulk_labels, required = false)]
    pub add_labels: Option<Vec<String>>,
    /// Removed from every issue that has them; none may also be in `add_labels`.
    #[serde(default)]
    #[schema(schema_with = limits::bulk_labels, required = false)]
    pub remove_labels: Option<Vec<String>>,
    #[serde(default)]
    #[schema(schema_with = limits::bulk_expected_versions, required = false)]
    pub expected_versions: Option<BTreeMap<String, i64>>,
    /// Work out and answer the per-issue diff, writing nothing. Default `false`.
    #[serde(default)]
    pub dry_run: bool,
}

/// `Some("")` for an explicit `null` (the services' "clear"), refusing an empty text, which
/// would read as the same.
fn clearable(
    field: &str,
    value: Option<Option<String>>,
    message: &str,
) -> Result<Option<String>, ApiError> {
    match value {
        None => Ok(None),
        Some(None) => Ok(Some(String::new())),
        Some(Some(text)) if text.trim().is_empty() => {
            Err(ApiError::invalid_field(format!("set.{field}"), message))
        }
        Some(Some(text)) => Ok(Some(text)),
    }
}

impl BulkEditRequest {
    fn into_pb(
        self,
        project_key: String,
        request_id: String,
    ) -> Result<pb::BulkUpdateIssuesRequest, ApiError> {
        let set = self.set.unwrap_or_default();
        Ok(pb::BulkUpdateIssuesRequest {
            project_key,
            issue_keys: self.issue_keys,
            changes: Some(pb::BulkChanges {
                status: set.status.map_or(0, IssueStatus::to_pb),
                resolution: set.resolution.map_or(0, Resolution::to_pb),
                priority: set.priority.map_or(0, Priority::to_pb),
                assignee_id: clearable(
                    "assignee_id",
                    set.assignee_id,
                    "must be a user id, or null to unassign",
                )?,
                milestone_id: clearable(
                    "milestone_id",
                    set.milestone_id,
                    "must be a milestone id, or null to detach",
                )?,
                due_on: clearable(
                    "due_on",
                    set.due_on,
                    "must be a date YYYY-MM-DD, or null to clear it",
                )?,
                add_labels: self.add_labels.unwrap_or_default(),
                remove_labels: self.remove_labels.unwrap_or_default(),
            }),
            expected_versions: self
                .expected_versions
                .unwrap_or_default()
                .into_iter()
                .map(|(issue_key, version)| pb::ExpectedVersion { issue_key, version })
                .collect(),
            dry_run: self.dry_run,
            request_id,
        })
    }
}

/// One field an edit changed (or would change).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"field": "status", "old_value": "open", "new_value": "closed"}))]
pub struct FieldChange {
    /// `status`, `resolution`, `priority`, `assignee_id`, `milestone_id`, `due_on` or `labels`.
    pub field: String,
    /// Labels as a comma-separated list; `null` where there was no value.
    #[schema(required = true)]
    pub old_value: Option<String>,
    #[schema(required = true)]
    pub new_value: Option<String>,
}

/// What a bulk edit did (or would do) to one issue.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkIssueResult {
    pub issue_key: String,
    /// Empty when the issue already had every value asked for (it is left untouched).
    pub changes: Vec<FieldChange>,
    /// The issue after the edit (as it would be, on a dry run).
    pub issue: Issue,
}

/// The outcome of a bulk edit, one result per issue in the order of `issue_keys`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "dry_run": true,
    "changed": 1,
    "results": [{
        "issue_key": "SWAT-12",
        "changes": [
            {"field": "status", "old_value": "open", "new_value": "closed"},
            {"field": "resolution", "old_value": null, "new_value": "wont_fix"}
        ],
        "issue": {
            "id": "01936f8f-0c4e-7d10-a2b3-5c6d7e8f9a0b", "key": "SWAT-12", "project_key": "SWAT",
            "number": 12, "title": "Login fails when the username has capitals",
            "description": "", "status": "closed", "priority": "high", "labels": ["triaged"],
            "author_id": "01936f8e-6a3c-7b21-9f4e-3c2d1b0a9f8e", "assignee_id": null,
            "created_at": "2026-11-22T09:30:00.123456Z", "updated_at": "2026-12-01T10:00:00Z",
            "closed_at": "2026-12-01T10:00:00Z", "version": 4, "resolution": "wont_fix",
            "due_on": null, "estimate": null, "milestone_id": null, "parent_key": null,
            "parent_hidden": false, "sub_issues": {"total": 0, "done": 0}, "blocked": false,
            "duplicate_of": null, "attachment_count": 0
        }
    }]
}))]
pub struct BulkEditResponse {
    /// Nothing was written.
    pub dry_run: bool,
    /// How many issues changed (or would).
    #[schema(minimum = 0, maximum = 500)]
    pub changed: i32,
    pub results: Vec<BulkIssueResult>,
}

impl TryFrom<pb::BulkUpdateIssuesResponse> for BulkEditResponse {
    type Error = ApiError;

    fn try_from(response: pb::BulkUpdateIssuesResponse) -> Result<Self, ApiError> {
        let results = response
            .results
            .into_iter()
            .map(|result| {
                Ok(BulkIssueResult {
                    issue_key: result.issue_key,
                    changes: result
                        .changes
                        .into_iter()
                        .map(|c| FieldChange {
                            field: c.field,
                            old_value: c.old_value,
                            new_value: c.new_value,
                        })
                        .collect(),
                    issue: result
                        .issue
                        .ok_or_else(|| super::broken_answer("result.issue"))?
                        .try_into()?,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        Ok(BulkEditResponse {
            dry_run: response.dry_run,
            changed: response.changed,
            results,
        })
    }
}

/// The field of the REST body that a service's field name means: the service's `changes` is
/// `set`, with the labels beside it.
fn rest_field(field: &str) -> String {
    match field {
        "changes" => "set".to_owned(),
        "changes.add_labels" => "add_labels".to_owned(),
        "changes.remove_labels" => "remove_labels".to_owned(),
        other => match other.strip_prefix("changes.") {
            Some(rest) => format!("set.{rest}"),
            None => other.to_owned(),
        },
    }
}

/// A service refusal with its fields named as in the REST body.
fn renamed(error: ApiError) -> ApiError {
    let errors = error
        .errors()
        .iter()
        .map(|e| FieldError {
            field: rest_field(&e.field),
            message: e.message.clone(),
        })
        .collect();
    error.with_errors(errors)
}

/// Maintainers and owners (reporters for what they may change on each issue): change up to
/// 500 issues of a project in one request: status, resolution, priority, assignee, milestone,
/// due date, labels added or removed. All or nothing: if any issue is refused, nothing is
/// written and the answer names every refused issue. `dry_run` answers the same diff without
/// writing. Each changed issue gets one history entry per field, one `issue.updated` event and
/// a new version; issues that already have every value are left untouched.
#[utoipa::path(
    post,
    path = "/v1/projects/{key}/issues/bulk",
    tag = "issues",
    security(("bearer" = [])),
    params(
        ProjectKey,
        IdempotencyKey,
    ),
    request_body = BulkEditRequest,
    responses(
        (status = 200, description = "The edit was applied (or, with `dry_run`, worked out); one result per issue", body = BulkEditResponse),
        (status = 403, description = "The caller may not make this change to some issues: `errors` names each (`issue_keys[i]`); nothing was written",
            body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Forbidden, "issue_keys[1]", "SWAT-14: your role does not allow this change to this issue"))),
        (status = 404, description = "No such project, or the caller is not a member"),
        (status = 412, description = "Issues moved past their `expected_versions`: `errors` names each; nothing was written",
            body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::PreconditionFailed, "expected_versions.SWAT-12", "SWAT-12 is at version 4, not 3"))),
        (status = 422, description = "A field is invalid, a key names no issue of this project, a value does not fit an issue (resolution of an open issue, more than 20 labels), the assignee is not a member, the milestone is not this project's, or the Idempotency-Key was used with another body",
            body = Problem, content_type = PROBLEM_JSON, example = json!(problem_example(ProblemKind::Validation, "issue_keys[2]", "SWAT-99: no such issue in this project"))),
    ),
)]
pub async fn bulk_edit_issues(
    State(state): State<AppState>,
    caller: Authenticated,
    ApiPath(ProjectKey { key: project_key }): ApiPath<ProjectKey>,
    IdempotencyKey(request_id): IdempotencyKey,
    ApiJson(body): ApiJson<BulkEditRequest>,
) -> Result<Json<BulkEditResponse>, ApiError> {
    let request = body.into_pb(project_key, request_id)?;
    let response = state
        .issues()
        .bulk_update_issues(caller.request(request))
        .await
        .map_err(|status| renamed(ApiError::from(status)))?
        .into_inner();
    Ok(Json(response.try_into()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::decode_json;

    fn request(raw: &str) -> Result<pb::BulkUpdateIssuesRequest, ApiError> {
        decode_json::<BulkEditRequest>(raw.as_bytes())?.into_pb("SWAT".into(), String::new())
    }

    #[test]
    fn null_clears_absent_leaves_and_empty_text_is_refused() {
        let changes =
            request(r#"{"issue_keys": ["SWAT-1"], "set": {"assignee_id": null, "due_on": null}}"#)
                .unwrap()
                .changes
                .unwrap();
        assert_eq!(changes.assignee_id.as_deref(), Some(""));
        assert_eq!(changes.due_on.as_deref(), Some(""));
        assert_eq!(changes.milestone_id, None);
        for field in ["assignee_id", "milestone_id", "due_on"] {
            let error = request(&format!(
                r#"{{"issue_keys": ["SWAT-1"], "set": {{"{field}": " "}}}}"#
            ))
            .unwrap_err();
            assert_eq!(error.errors()[0].field, format!("set.{field}"));
        }
        let error = request(r#"{"issue_keys": ["SWAT-1"], "set": {"status": null}}"#).unwrap_err();
        assert_eq!(error.errors()[0].field, "set.status");
    }

    #[test]
    fn expected_versions_and_labels_travel_to_the_service() {
        let request = request(
            r#"{"issue_keys": ["SWAT-1", "SWAT-2"], "add_labels": ["a"], "remove_labels": ["b"],
                "expected_versions": {"SWAT-2": 7}, "dry_run": true}"#,
        )
        .unwrap();
        assert!(request.dry_run);
        assert_eq!(
            request.expected_versions,
            [pb::ExpectedVersion {
                issue_key: "SWAT-2".into(),
                version: 7
            }]
        );
        let changes = request.changes.unwrap();
        assert_eq!(
            (changes.add_labels, changes.remove_labels),
            (vec!["a".to_owned()], vec!["b".to_owned()])
        );
    }

    #[test]
    fn service_field_names_become_the_fields_of_the_rest_body() {
        for (service, rest) in [
            ("changes", "set"),
            ("changes.status", "set.status"),
            ("changes.add_labels", "add_labels"),
            ("changes.remove_labels", "remove_labels"),
            ("issue_keys[3]", "issue_keys[3]"),
            ("expected_versions.SWAT-1", "expected_versions.SWAT-1"),
        ] {
            assert_eq!(rest_field(service), rest);
        }
    }
}
