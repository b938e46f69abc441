//! Gathering a report's data from the issues and identity services, as the person who asked
//! for it: the worker exchanges its service credential for a token on the owner's behalf, so the
//! services apply exactly that person's permissions.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, Utc};
use swatter_common::{
    client::TracedChannel,
    rpc::{
        datetime,
        downstream::{self, Failure, with_token},
    },
};
use swatter_proto::{
    identity::v1::{
        self as idpb, create_token_request::Grant, identity_service_client::IdentityServiceClient,
    },
    issues::v1::{self as pb, issues_service_client::IssuesServiceClient},
};
use tokio_stream::StreamExt;
use tonic::{Code, Status};
use uuid::Uuid;

use crate::{
    domain::month_bounds,
    render::model::{
        IssueStatus, MonthlyProject, Priority, ProjectReport, ReportIssue, ReportMilestone,
        UserMonthlyReport,
    },
};

/// Why gathering failed, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    Transient(String),
    Permanent(String),
}

/// Transport trouble and overload are worth retrying; refusals and bad requests are not.
pub fn classify(status: &Status, what: &str) -> FetchError {
    match downstream::classify(status) {
        Failure::Unavailable | Failure::Transient => {
            FetchError::Transient(format!("{what}: {}", status.message()))
        }
        Failure::Missing => FetchError::Permanent(format!(
            "{what}: not found or no longer visible to the requester"
        )),
        Failure::Refused => FetchError::Permanent(format!("{what}: {}", status.message())),
    }
}

/// Clients of the services a report reads from.
#[derive(Clone)]
pub struct Sources {
    pub identity: IdentityServiceClient<TracedChannel>,
    pub issues: IssuesServiceClient<TracedChannel>,
    pub client_id: String,
    pub client_secret: String,
}

fn time(ts: Option<prost_types::Timestamp>) -> Option<DateTime<Utc>> {
    ts.as_ref().and_then(datetime)
}

/// An issue's status as the issues service sent it; a value this build does not know is a
/// permanent failure of the report, never a guess.
fn status_of(raw: i32) -> Result<IssueStatus, FetchError> {
    match pb::IssueStatus::try_from(raw) {
        Ok(pb::IssueStatus::Open) => Ok(IssueStatus::Open),
        Ok(pb::IssueStatus::InProgress) => Ok(IssueStatus::InProgress),
        Ok(pb::IssueStatus::Resolved) => Ok(IssueStatus::Resolved),
        Ok(pb::IssueStatus::Closed) => Ok(IssueStatus::Closed),
        Ok(pb::IssueStatus::Unspecified) | Err(_) => Err(unknown("status", raw)),
    }
}

/// An issue's priority as the issues service sent it (see [`status_of`]).
fn priority_of(raw: i32) -> Result<Priority, FetchError> {
    match pb::Priority::try_from(raw) {
        Ok(pb::Priority::Low) => Ok(Priority::Low),
        Ok(pb::Priority::Medium) => Ok(Priority::Medium),
        Ok(pb::Priority::High) => Ok(Priority::High),
        Ok(pb::Priority::Urgent) => Ok(Priority::Urgent),
        Ok(pb::Priority::Unspecified) | Err(_) => Err(unknown("priority", raw)),
    }
}

/// A due date as the issues service sent it (`YYYY-MM-DD`); another shape is a permanent
/// failure of the report, never a guess.
fn date_of(what: &str, raw: Option<&str>) -> Result<Option<NaiveDate>, FetchError> {
    match raw.filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(raw) => raw.parse().map(Some).map_err(|_| {
            FetchError::Permanent(format!("the issues service sent a bad due date for {what}"))
        }),
    }
}

/// A milestone as a report shows it.
fn milestone_of(milestone: pb::Milestone) -> Result<ReportMilestone, FetchError> {
    let progress = milestone.progress.unwrap_or_default();
    let count = |n: i32| u32::try_from(n).unwrap_or(0);
    Ok(ReportMilestone {
        due_on: date_of("a milestone", milestone.due_on.as_deref())?,
        title: milestone.title,
        closed: milestone.state == pb::MilestoneState::Closed as i32,
        done: count(progress.resolved) + count(progress.closed),
        total: count(progress.total),
        percent_done: count(progress.percent_done),
    })
}

fn unknown(field: &str, raw: i32) -> FetchError {
    FetchError::Permanent(format!(
        "the issues service sent an unknown issue {field} ({raw})"
    ))
}

impl Sources {
    /// A short access token for `owner` (delegated to this service): it lives two minutes and
    /// reads only what a report needs, so a long report asks for a new one per step.
    pub async fn token_for(&self, owner: Uuid) -> Result<String, FetchError> {
        let response = self
            .identity
            .clone()
            .create_token(idpb::CreateTokenRequest {
                grant: Some(Grant::ClientCredentials(idpb::ClientCredentialsGrant {
                    client_id: self.client_id.clone(),
                    client_secret: self.client_secret.clone(),
                    subject_user_id: Some(owner.to_string()),
                })),
            })
            .await
            .map_err(|status| match status.code() {
                // A misconfigured credential is an operator problem: retrying lets them fix it.
                Code::Unauthenticated => FetchError::Transient(format!(
                    "service credential refused: {}",
                    status.message()
                )),
                _ => classify(&status, "the requester's account"),
            })?;
        Ok(response.into_inner().access_token)
    }

    /// The issues `request` lists, across all its pages, streamed as `owner` sees them.
    pub async fn export_issues(
        &self,
        owner: Uuid,
        request: pb::ListIssuesRequest,
    ) -> Result<tonic::Streaming<pb::Issue>, FetchError> {
        let token = self.token_for(owner).await?;
        Ok(self
            .issues
            .clone()
            .export_issues(with_token(request, &token))
            .await
            .map_err(|s| classify(&s, "the exported issues"))?
            .into_inner())
    }

    async fn project_issues(&self, token: &str, key: &str) -> Result<Vec<pb::Issue>, FetchError> {
        let mut stream = self
            .issues
            .clone()
            .export_project_issues(with_token(
                pb::ExportProjectIssuesRequest {
                    project_key: key.to_owned(),
                },
                token,
            ))
            .await
            .map_err(|s| classify(&s, &format!("project {key}")))?
            .into_inner();
        let mut issues = Vec::new();
        while let Some(issue) = stream.next().await {
            let mut issue = issue.map_err(|s| classify(&s, &format!("issues of {key}")))?;
            // Reports show neither descriptions nor labels: free them as issues arrive, so a
            // 20,000-issue project's are never all held at once.
            issue.description = String::new();
            issue.labels = Vec::new();
            issues.push(issue);
        }
        Ok(issues)
    }

    /// Every milestone of the project, in the service's order (by due date, then title).
    async fn milestones(&self, token: &str, key: &str) -> Result<Vec<ReportMilestone>, FetchError> {
        let mut milestones = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .issues
                .clone()
                .list_milestones(with_token(
                    pb::ListMilestonesRequest {
                        project_key: key.to_owned(),
                        state: pb::MilestoneState::Unspecified as i32,
                        page_size: 100,
                        page_token,
                    },
                    token,
                ))
                .await
                .map_err(|s| classify(&s, &format!("milestones of {key}")))?
                .into_inner();
            for milestone in page.milestones {
                milestones.push(milestone_of(milestone)?);
            }
            if page.next_page_token.is_empty() {
                return Ok(milestones);
            }
            page_token = page.next_page_token;
        }
    }

    /// Usernames of the given user ids (unknown ids are left out).
    async fn usernames(
        &self,
        token: &str,
        ids: HashSet<String>,
    ) -> Result<HashMap<String, String>, FetchError> {
        let ids: Vec<String> = ids.into_iter().collect();
        let mut names = HashMap::new();
        for chunk in ids.chunks(1000) {
            let users = self
                .identity
                .clone()
                .batch_get_users(with_token(
                    idpb::BatchGetUsersRequest {
                        ids: chunk.to_vec(),
                    },
                    token,
                ))
                .await
                .map_err(|s| classify(&s, "user names"))?
                .into_inner()
                .users;
            names.extend(users.into_iter().map(|u| (u.id, u.username)));
        }
        Ok(names)
    }

    async fn report_issues(
        &self,
        token: &str,
        issues: Vec<pb::Issue>,
    ) -> Result<Vec<ReportIssue>, FetchError> {
        let ids: HashSet<String> = issues
            .iter()
            .flat_map(|i| std::iter::once(i.author_id.clone()).chain(i.assignee_id.clone()))
            .collect();
        let names = self.usernames(token, ids).await?;
        let name = |id: &str| {
            names
                .get(id)
                .cloned()
                .unwrap_or_else(|| "(deleted user)".to_owned())
        };
        issues
            .into_iter()
            .map(|issue| {
                Ok(ReportIssue {
                    title: issue.title,
                    status: status_of(issue.status)?,
                    priority: priority_of(issue.priority)?,
                    assignee: issue.assignee_id.as_deref().map(name),
                    author: name(&issue.author_id),
                    created_at: time(issue.created_at).ok_or_else(|| {
                        FetchError::Permanent(format!("issue {} has no created_at", issue.key))
                    })?,
                    closed_at: time(issue.closed_at),
                    due_on: date_of(&issue.key, issue.due_on.as_deref())?,
                    // A negative count is no count the issues service makes; read it as none.
                    attachments: u32::try_from(issue.attachment_count).unwrap_or(0),
                    key: issue.key,
                })
            })
            .collect()
    }

    /// The data of a project report, read as `owner`.
    pub async fn project_report(
        &self,
        owner: Uuid,
        owner_username: &str,
        key: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<ProjectReport, FetchError> {
        let token = self.token_for(owner).await?;
        let project = self
            .issues
            .clone()
            .get_project(with_token(
                pb::GetProjectRequest {
                    key: key.to_owned(),
                },
                &token,
            ))
            .await
            .map_err(|s| classify(&s, &format!("project {key}")))?
            .into_inner();
        let issues = self.project_issues(&token, key).await?;
        let token = self.token_for(owner).await?;
        let milestones = self.milestones(&token, key).await?;
        Ok(ProjectReport {
            project_key: project.key,
            project_name: project.name,
            from,
            to,
            generated_at: Utc::now(),
            requested_by: owner_username.to_owned(),
            issues: self.report_issues(&token, issues).await?,
            milestones,
        })
    }

    /// The data of a monthly report: every project `owner` belongs to.
    pub async fn monthly_report(
        &self,
        owner: Uuid,
        owner_username: &str,
        month: &str,
    ) -> Result<UserMonthlyReport, FetchError> {
        let (month_start, month_end) = month_bounds(month)
            .ok_or_else(|| FetchError::Permanent(format!("bad month {month}")))?;
        let token = self.token_for(owner).await?;
        let mut projects = Vec::new();
        let mut page_token = String::new();
        loop {
            let page = self
                .issues
                .clone()
                .list_projects(with_token(
                    pb::ListProjectsRequest {
                        page_size: 100,
                        page_token,
                    },
                    &token,
                ))
                .await
                .map_err(|s| classify(&s, "projects"))?
                .into_inner();
            // Admins list every project; a monthly report covers those the user belongs to.
            projects.extend(
                page.projects
                    .into_iter()
                    .filter(|p| p.my_role != pb::Role::Unspecified as i32),
            );
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        let mut monthly = Vec::new();
        for project in projects {
            let token = self.token_for(owner).await?;
            let issues = self.project_issues(&token, &project.key).await?;
            monthly.push(MonthlyProject {
                key: project.key,
                name: project.name,
                issues: self.report_issues(&token, issues).await?,
            });
        }
        Ok(UserMonthlyReport {
            username: owner_username.to_owned(),
            month: month.to_owned(),
            month_start,
            month_end,
            generated_at: Utc::now(),
            projects: monthly,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outages_are_transient_and_refusals_permanent() {
        for code in [
            Code::Unavailable,
            Code::DeadlineExceeded,
            Code::ResourceExhausted,
            Code::Internal,
        ] {
            assert!(
                matches!(
                    classify(&Status::new(code, "x"), "w"),
                    FetchError::Transient(_)
                ),
                "{code:?}"
            );
        }
        for code in [
            Code::NotFound,
            Code::PermissionDenied,
            Code::InvalidArgument,
            Code::FailedPrecondition,
        ] {
            assert!(
                matches!(
                    classify(&Status::new(code, "x"), "w"),
                    FetchError::Permanent(_)
                ),
                "{code:?}"
            );
        }
    }
}
