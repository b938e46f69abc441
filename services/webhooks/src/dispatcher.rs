//! The dispatcher: attempts due deliveries, one at a time per endpoint (always its oldest
//! unfinished delivery) and many endpoints at once.
//!
//! It claims deliveries with a lease (`FOR UPDATE SKIP LOCKED`, then `lease_until`): several
//! replicas share the work, and a delivery whose process died mid-attempt is claimed again once
//! its lease lapses, with the same event id. It is woken at once when deliveries are stored
//! (`NOTIFY`), when a retry falls due, and every sweep interval as a safety net. After a
//! success, the same task goes straight on with the endpoint's next delivery.

use std::{sync::Arc, time::Duration};

use chrono::{SecondsFormat, Utc};
use sqlx::PgPool;
use swatter_common::events::Envelope;
use tokio::{
    sync::{Notify, OwnedSemaphorePermit, Semaphore, watch},
    task::JoinSet,
};
use tracing::Instrument;

use crate::{
    delivery::{Outcome, Sender},
    domain::{ENDPOINT_DISABLED, RetrySchedule},
    store::{self, AfterAttempt, Claim, EndpointRow},
};

/// Everything the dispatcher needs.
pub struct Dispatcher {
    pub db: PgPool,
    pub sender: Sender,
    pub schedule: RetrySchedule,
    pub lease: Duration,
    pub concurrency: usize,
    pub sweep: Duration,
}

/// Deliveries one task sends to the same endpoint before it hands the slot back, so that the
/// oldest waiting delivery of any endpoint goes next when every slot is busy with backlogs.
const CHAIN_LIMIT: usize = 20;

/// The `webhook.endpoint_disabled` envelope (JSON) about `endpoint`, its data the endpoint as the
/// REST API shows it.
fn disabled_event(endpoint: &EndpointRow) -> String {
    let time = |at: chrono::DateTime<Utc>| at.to_rfc3339_opts(SecondsFormat::AutoSi, true);
    let now = Utc::now();
    let envelope = Envelope {
        id: format!("evt_{}", uuid::Uuid::now_v7()),
        event_type: ENDPOINT_DISABLED.to_owned(),
        timestamp: now,
        project_key: Some(endpoint.project_key.clone()),
        cursor: None,
        data: serde_json::json!({
            "id": endpoint.id.to_string(),
            "project_key": endpoint.project_key,
            "url": endpoint.url,
            "event_types": endpoint.event_types,
            "description": endpoint.description,
            "active": endpoint.active,
            "disabled_reason": endpoint.disabled_reason,
            "created_by": endpoint.created_by.to_string(),
            "created_at": time(endpoint.created_at),
            "updated_at": time(endpoint.updated_at),
            "previous_secret_expires_at": endpoint
                .previous_secret_expires_at
                .filter(|at| *at > now)
                .map(time),
        }),
    };
    serde_json::to_string(&envelope).expect("an envelope is JSON")
}

/// Shortest pause between two scans that found nothing to claim although work seemed due.
const MIN_WAIT: Duration = Duration::from_millis(5);

impl Dispatcher {
    /// Dispatches until `shutdown` turns true, then lets the attempts in flight finish.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let permits = Arc::new(Semaphore::new(self.concurrency));
        let finished = Arc::new(Notify::new());
        let mut tasks = JoinSet::new();
        let mut listener = None;
        let mut failures = 0u32;
        while !*shutdown.borrow() {
            if listener.is_none() {
                listener = swatter_common::db::listen(&self.db, store::DELIVERIES_CHANNEL).await;
            }
            while tasks.try_join_next().is_some() {}
            let free = permits.available_permits();
            let mut wait = self.sweep;
            if free > 0 {
                match store::claim_due(&self.db, free as i64, self.lease, None).await {
                    Ok(claims) => {
                        failures = 0;
                        let full = claims.len() == free;
                        for claim in claims {
                            let permit = permits
                                .clone()
                                .try_acquire_owned()
                                .expect("no more claims than free permits");
                            tasks.spawn(self.clone().chain(
                                claim,
                                permit,
                                finished.clone(),
                                shutdown.clone(),
                            ));
                        }
                        if full {
                            continue;
                        }
                        if let Ok(Some(next)) = store::next_due(&self.db).await {
                            let until = (next - Utc::now()).to_std().unwrap_or(Duration::ZERO);
                            wait = wait.min(until.max(MIN_WAIT));
                        }
                    }
                    Err(error) => {
                        failures += 1;
                        tracing::warn!(error = %error, "dispatcher: cannot claim deliveries");
                        wait = Duration::from_millis(100 * u64::from(failures.min(50)));
                    }
                }
            }
            let notified = async {
                match listener.as_mut() {
                    Some(l) => l.recv().await.map(|_| ()),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                result = notified => if result.is_err() { listener = None; },
                () = finished.notified() => {},
                _ = tokio::time::sleep(wait) => {},
                _ = shutdown.changed() => {},
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Attempts `claim`, and after each success the endpoint's next due delivery (up to
    /// [`CHAIN_LIMIT`] in all).
    async fn chain(
        self: Arc<Self>,
        mut claim: Claim,
        _permit: OwnedSemaphorePermit,
        finished: Arc<Notify>,
        shutdown: watch::Receiver<bool>,
    ) {
        let mut sent = 0;
        loop {
            let after = self.attempt(&claim).await;
            sent += 1;
            if after != Some(AfterAttempt::Succeeded) || *shutdown.borrow() || sent == CHAIN_LIMIT {
                break;
            }
            match store::claim_due(&self.db, 1, self.lease, Some(claim.endpoint_id)).await {
                Ok(mut next) if !next.is_empty() => claim = next.swap_remove(0),
                _ => break,
            }
        }
        finished.notify_one();
    }

    /// Sends one attempt and records it; what became of the delivery, unless the record failed
    /// or the lease was lost.
    async fn attempt(&self, claim: &Claim) -> Option<AfterAttempt> {
        let span = tracing::info_span!(
            "webhook.deliver",
            delivery_id = %claim.id,
            endpoint_id = %claim.endpoint_id,
            webhook_id = %claim.event_id,
            attempt = claim.attempts,
        );
        self.attempt_in_span(claim).instrument(span).await
    }

    async fn attempt_in_span(&self, claim: &Claim) -> Option<AfterAttempt> {
        let sent = self.sender.send(claim).await;
        crate::metrics::attempted(sent.outcome, sent.record.duration_ms);
        let now = Utc::now();
        let in_schedule = claim.attempts - claim.schedule_start;
        let after = match sent.outcome {
            Outcome::Succeeded => AfterAttempt::Succeeded,
            _ => match self.schedule.next_attempt(in_schedule, now) {
                Some(at) => AfterAttempt::RetryAt(at),
                None => AfterAttempt::Exhausted,
            },
        };
        let reason = (after == AfterAttempt::Exhausted).then(|| {
            let last = if sent.record.error.is_empty() {
                format!("HTTP {}", sent.record.response_status)
            } else {
                sent.record.error.clone()
            };
            format!(
                "{in_schedule} attempts to deliver {} failed (the last: {last})",
                claim.event_id
            )
        });
        let recorded = store::record_attempt(
            &self.db,
            claim,
            &sent.record,
            after,
            reason.as_deref().map(|reason| store::Disable {
                reason,
                event: &disabled_event,
            }),
        )
        .await;
        match recorded {
            Ok(true) => {
                match after {
                    AfterAttempt::Succeeded => {
                        crate::metrics::finished("succeeded");
                        let latency = (Utc::now() - claim.event_at).num_milliseconds().max(0);
                        crate::metrics::delivered(latency);
                    }
                    AfterAttempt::Exhausted => {
                        crate::metrics::finished("failed");
                        tracing::warn!(
                            endpoint_id = %claim.endpoint_id,
                            "retry schedule used up; the endpoint is disabled"
                        );
                    }
                    AfterAttempt::RetryAt(at) => {
                        tracing::info!(outcome = sent.outcome.as_str(), next_attempt_at = %at, "attempt failed; will retry");
                    }
                }
                Some(after)
            }
            Ok(false) => {
                tracing::info!("the lease was lost meanwhile; the attempt is not recorded");
                None
            }
            Err(error) => {
                tracing::warn!(error = %error, "cannot record the attempt; it will be made again after the lease");
                None
            }
        }
    }
}
