//! Scheduled reports: creating, reading, listing, pausing, resuming and deleting schedules. The
//! runs themselves are made by the scheduler (`crate::scheduler`). Only a schedule's owner (and
//! admins) see it; others get NOT_FOUND.

use std::time::Duration;

use chrono::Utc;
use swatter_common::{
    pagination::{self, CursorTime},
    rpc::{
        caller,
        idempotency::{self, Begin},
    },
    status::Violation,
};
use swatter_proto::reporting::v1::{self as pb, scheduled_report::Report};
use tonic::Request;
use uuid::Uuid;

use super::{Reporting, convert::schedule_message, reports::check_project_visible, within_project};
use crate::{
    domain::schedule::{CronExpr, ScheduleSpec, ScheduledReport, parse_zone},
    error::{ReportingError, Result},
    store::schedules::{self, ScheduleRow},
};

/// When a user at their limit of schedules is told to try again (after deleting one).
const SCHEDULE_SLOT_RETRY: Duration = Duration::from_secs(60);

/// A schedule the caller may see (their own, or any for admins; within their token's projects).
async fn visible_schedule(
    reporting: &Reporting,
    raw_id: &str,
    me: &swatter_common::auth::UserPrincipal,
) -> Result<ScheduleRow> {
    let id: Uuid = raw_id
        .parse()
        .map_err(|_| ReportingError::NotFound("schedule"))?;
    let schedule = schedules::schedule_by_id(&reporting.db, id)
        .await?
        .ok_or(ReportingError::NotFound("schedule"))?;
    if (schedule.owner_id == me.id || me.admin) && within_project(me, schedule.report.project_key())
    {
        Ok(schedule)
    } else {
        Err(ReportingError::NotFound("schedule"))
    }
}

fn scheduled_report(
    report: Option<&pb::ScheduledReport>,
) -> Result<ScheduledReport, Vec<Violation>> {
    match report.and_then(|r| r.report.as_ref()) {
        Some(Report::Project(p)) => ScheduledReport::project(&p.project_key, p.period_days),
        Some(Report::UserMonthly(_)) => Ok(ScheduledReport::UserMonthly),
        None => Err(vec![Violation::new(
            "report",
            "is required: a project or a user_monthly report",
        )]),
    }
}

pub(super) async fn create_schedule(
    reporting: &Reporting,
    request: Request<pb::CreateScheduleRequest>,
) -> Result<pb::Schedule> {
    let me = caller(&request)?;
    let r = request.get_ref();
    let spec = ScheduleSpec::new(
        scheduled_report(r.report.as_ref()),
        &r.cron,
        &r.time_zone,
        &r.name,
        Utc::now(),
    )
    .map_err(ReportingError::Invalid)?;
    match spec.report.project_key() {
        None if me.project_limit().is_some() => {
            return Err(ReportingError::Forbidden(
                "a personal access token limited to some projects cannot schedule a user report",
            ));
        }
        Some(key) if !me.may_access_project(key) => {
            return Err(ReportingError::NotFound("project"));
        }
        _ => {}
    }
    let mut req = r.clone();
    let request_id = std::mem::take(&mut req.request_id);
    let (mut tx, claim) =
        match idempotency::begin(&reporting.db, me.id, "create_schedule", &request_id, &req).await?
        {
            Begin::Replay(schedule) => return Ok(schedule),
            Begin::Proceed(tx, claim) => (tx, claim),
        };
    if let Some(key) = spec.report.project_key() {
        check_project_visible(reporting, &request, key).await?;
    }
    schedules::lock_owner_schedules(&mut tx, me.id).await?;
    let limit = reporting.max_schedules_per_user;
    if schedules::count_schedules(&mut *tx, me.id).await? >= i64::from(limit) {
        return Err(ReportingError::ResourceExhausted {
            message: format!(
                "at most {limit} schedules per user (SWATTER_MAX_SCHEDULES_PER_USER); \
                 delete one first"
            )
            .into(),
            retry_after: SCHEDULE_SLOT_RETRY,
        });
    }
    let row = schedules::insert_schedule(
        &mut *tx,
        Uuid::now_v7(),
        me.id,
        &me.username,
        &spec,
        r.deliver_event,
    )
    .await?;
    let message = schedule_message(&row);
    claim.complete(&mut tx, &message).await?;
    tx.commit().await?;
    tracing::info!(schedule_id = %row.id, owner = %me.id, cron = %row.cron, "schedule created");
    Ok(message)
}

pub(super) async fn get_schedule(
    reporting: &Reporting,
    request: Request<pb::GetScheduleRequest>,
) -> Result<pb::Schedule> {
    let me = caller(&request)?;
    let schedule = visible_schedule(reporting, &request.get_ref().id, &me).await?;
    Ok(schedule_message(&schedule))
}

/// The page token's cursor: (paused, next run, id) of the last schedule shown.
type Cursor = (bool, Option<CursorTime>, Uuid);

pub(super) async fn list_schedules(
    reporting: &Reporting,
    request: Request<pb::ListSchedulesRequest>,
) -> Result<pb::ListSchedulesResponse> {
    let me = caller(&request)?;
    let req = request.into_inner();
    if req.all && !me.admin {
        return Err(ReportingError::Forbidden(
            "only admins list every user's schedules",
        ));
    }
    let (limit, after) = pagination::page::<Cursor>(req.page_size, &req.page_token)
        .map_err(ReportingError::invalid)?;
    let after = after.map(|(paused, at, id)| (paused, at.map(CursorTime::get), id));
    let owner = if req.all { None } else { Some(me.id) };
    let mut rows =
        schedules::list_schedules(&reporting.db, owner, me.project_limit(), after, limit + 1)
            .await?;
    let next_page_token = pagination::next_token(&mut rows, limit, |r| -> Cursor {
        (r.paused, r.next_run_at.map(CursorTime::from), r.id)
    });
    Ok(pb::ListSchedulesResponse {
        schedules: rows.iter().map(schedule_message).collect(),
        next_page_token,
    })
}

pub(super) async fn pause_schedule(
    reporting: &Reporting,
    request: Request<pb::PauseScheduleRequest>,
) -> Result<pb::Schedule> {
    let me = caller(&request)?;
    let schedule = visible_schedule(reporting, &request.get_ref().id, &me).await?;
    let paused = schedules::pause_schedule(&reporting.db, schedule.id)
        .await?
        .ok_or(ReportingError::NotFound("schedule"))?;
    Ok(schedule_message(&paused))
}

pub(super) async fn resume_schedule(
    reporting: &Reporting,
    request: Request<pb::ResumeScheduleRequest>,
) -> Result<pb::Schedule> {
    let me = caller(&request)?;
    let schedule = visible_schedule(reporting, &request.get_ref().id, &me).await?;
    if !schedule.paused {
        return Ok(schedule_message(&schedule));
    }
    let stored = |v: Violation| ReportingError::Internal(anyhow::anyhow!("stored {}", v.field));
    let zone = parse_zone(&schedule.time_zone).map_err(stored)?;
    let cron = CronExpr::parse(&schedule.cron).map_err(stored)?;
    // From now: the due times skipped while paused are not caught up.
    let next = cron.next_after(zone, Utc::now()).ok_or_else(|| {
        ReportingError::FailedPrecondition(
            "the schedule's cron expression never fires again".into(),
        )
    })?;
    let row = match schedules::resume_schedule(&reporting.db, schedule.id, next).await? {
        Some(row) => row,
        // Resumed (or deleted) meanwhile.
        None => visible_schedule(reporting, &schedule.id.to_string(), &me).await?,
    };
    Ok(schedule_message(&row))
}

pub(super) async fn delete_schedule(
    reporting: &Reporting,
    request: Request<pb::DeleteScheduleRequest>,
) -> Result<()> {
    let me = caller(&request)?;
    let schedule = visible_schedule(reporting, &request.get_ref().id, &me).await?;
    if !schedules::delete_schedule(&reporting.db, schedule.id).await? {
        return Err(ReportingError::NotFound("schedule"));
    }
    tracing::info!(schedule_id = %schedule.id, "schedule deleted");
    Ok(())
}
