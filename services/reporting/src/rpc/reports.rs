//! Asking for a report or an export: the request is checked (an export's filter by the issues
//! service itself), the job added with the message that starts
//! it (the outbox), and the first answer kept for its `Idempotency-Key`.

use chrono::{DateTime, Utc};
use swatter_common::{
    input, propagation,
    rpc::{
        caller, datetime, downstream,
        idempotency::{self, Begin},
    },
    status::Violation,
};
use swatter_proto::{
    issues::v1::{GetProjectRequest, ListIssuesRequest, Role},
    reporting::v1::{self as pb, report_params::Params},
};
use tonic::Request;
use uuid::Uuid;

use super::{
    Reporting,
    convert::{self, job_message},
    take_job_slot,
};
use crate::{
    domain::{self, IssueFilter, ReportParams},
    error::{ReportingError, Result},
    store::{self, Destination},
};

/// An instant of a request: a valid timestamp within the years 1–9999 (chrono reads years far
/// beyond what PostgreSQL and RFC 3339 hold).
fn instant(field: &str, at: &prost_types::Timestamp) -> Result<DateTime<Utc>> {
    let at = datetime(at)
        .ok_or_else(|| ReportingError::invalid(Violation::new(field, "is not a valid time")))?;
    input::check_time(field, at).map_err(ReportingError::invalid)
}

/// The parameters of the report asked for.
fn report_params(params: Option<&pb::ReportParams>, now: DateTime<Utc>) -> Result<ReportParams> {
    match params.and_then(|p| p.params.as_ref()) {
        Some(Params::Project(p)) => {
            let from = p.from.as_ref().map(|t| instant("from", t)).transpose()?;
            let to = p.to.as_ref().map(|t| instant("to", t)).transpose()?;
            domain::project_params(&p.project_key, from, to, now).map_err(ReportingError::Invalid)
        }
        Some(Params::UserMonthly(m)) => {
            domain::monthly_params(&m.month, now).map_err(ReportingError::invalid)
        }
        Some(Params::IssuesCsv(e)) => export_params(e, true),
        Some(Params::IssuesJson(e)) => export_params(e, false),
        None => Err(ReportingError::invalid(Violation::new(
            "kind",
            "must be project, user_monthly, issues_csv or issues_json",
        ))),
    }
}

fn export_params(params: &pb::IssueExportParams, csv: bool) -> Result<ReportParams> {
    let filter = convert::filter_from_pb(&params.filter.clone().unwrap_or_default())
        .map_err(ReportingError::Invalid)?;
    domain::export_params(filter, csv).map_err(ReportingError::invalid)
}

/// An export's filter as the issues service reads it: its `ListIssues` is asked for one issue on
/// the caller's behalf, so a filter or query it refuses is refused now with its violations
/// (`q` for a query that does not parse), and a project the caller cannot see is not found.
async fn check_export<T>(
    reporting: &Reporting,
    request: &Request<T>,
    filter: &IssueFilter,
) -> Result<()> {
    let probe = ListIssuesRequest {
        page_size: 1,
        ..convert::filter_to_pb(filter)
    };
    reporting
        .issues
        .clone()
        .list_issues(downstream::on_behalf_of(request, probe))
        .await
        .map_err(|status| ReportingError::downstream("issues", "project", status))?;
    Ok(())
}

/// The caller must be a member of the project now (the worker reads it later with a token held
/// on the caller's behalf, which carries no admin power: an admin who is not a member would get
/// a job bound to fail).
pub(super) async fn check_project_visible<T>(
    reporting: &Reporting,
    request: &Request<T>,
    key: &str,
) -> Result<()> {
    let lookup = downstream::on_behalf_of(
        request,
        GetProjectRequest {
            key: key.to_owned(),
        },
    );
    let project = reporting
        .issues
        .clone()
        .get_project(lookup)
        .await
        .map_err(|status| ReportingError::downstream("issues", "project", status))?;
    if project.get_ref().my_role == Role::Unspecified as i32 {
        return Err(ReportingError::NotFound("project"));
    }
    Ok(())
}

pub(super) async fn create_report(
    reporting: &Reporting,
    request: Request<pb::CreateReportRequest>,
) -> Result<pb::Job> {
    let me = caller(&request)?;
    let now = Utc::now();
    let params = report_params(request.get_ref().params.as_ref(), now)?;
    match (&params, params.project_key()) {
        (ReportParams::UserMonthly { .. }, _) if me.project_limit().is_some() => {
            return Err(ReportingError::Forbidden(
                "a personal access token limited to some projects cannot request a user report",
            ));
        }
        (ReportParams::IssuesCsv(_) | ReportParams::IssuesJson(_), None)
            if me.project_limit().is_some() =>
        {
            return Err(ReportingError::Forbidden(
                "a personal access token limited to some projects exports one of them only: \
                 give its project_key",
            ));
        }
        (_, Some(project_key)) if !me.may_access_project(project_key) => {
            return Err(ReportingError::NotFound("project"));
        }
        _ => {}
    }
    let mut req = request.get_ref().clone();
    let request_id = std::mem::take(&mut req.request_id);
    // A key seen before answers before anything else: a replay gets the first answer, a
    // different request with the same key is refused.
    let (mut tx, claim) =
        match idempotency::begin(&reporting.db, me.id, "create_report", &request_id, &req).await? {
            Begin::Replay(job) => return Ok(job),
            Begin::Proceed(tx, claim) => (tx, claim),
        };
    if let ReportParams::IssuesCsv(filter) | ReportParams::IssuesJson(filter) = &params {
        check_export(reporting, &request, filter).await?;
    }
    if let Some(project_key) = params.project_key() {
        check_project_visible(reporting, &request, project_key).await?;
    }
    take_job_slot(reporting, &mut tx, me.id).await?;
    let job = store::insert_job(
        &mut *tx,
        Uuid::now_v7(),
        me.id,
        &me.username,
        &params,
        reporting.max_attempts,
    )
    .await?;
    // The message carries this request's trace, so the worker's spans join it.
    let trace = propagation::current_trace_headers();
    store::insert_outbox(&mut *tx, job.id, 1, Destination::Work, now, &trace).await?;
    let message = job_message(&job);
    claim.complete(&mut tx, &message).await?;
    tx.commit().await?;
    tracing::info!(job_id = %job.id, kind = %job.kind, owner = %me.id, "report requested");
    Ok(message)
}
