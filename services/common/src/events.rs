//! The change events that leave a context through RabbitMQ, and the shape every consumer reads.
//!
//! Producers (issues' feed relay, reporting's job relay, webhooks itself) publish each event
//! once it is committed, to the durable topic exchange named by `SWATTER_EVENTS_EXCHANGE`
//! (default [`DEFAULT_EXCHANGE`]), with the event type as routing key, `message_id` = the
//! event's [`Envelope::id`], `content_type` = `application/json`, persistent delivery and
//! publisher confirms. The body is the JSON of an [`Envelope`]; webhook deliveries send that same
//! JSON, so what a receiver gets is what any other consumer reads.
//!
//! Delivery is at least once: a consumer dedupes on `id`. Within one project, events carry a
//! gap-free increasing `cursor` (the change feed's position), so a consumer can also put them
//! back in order.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Default name of the topic exchange the events are published to.
pub const DEFAULT_EXCHANGE: &str = "swatter.events";

/// One change, as published and as delivered to webhooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// Stable id (`evt_` + a UUID): the same on every redelivery, `webhook-id` for webhooks.
    pub id: String,
    /// One of [`EVENT_TYPES`] (or a webhook-only type such as `webhook.ping`).
    #[serde(rename = "type")]
    pub event_type: String,
    /// When the change was committed (RFC 3339, UTC).
    pub timestamp: DateTime<Utc>,
    /// The project the change belongs to; `None` only for job events of reports that are not
    /// about one project (`user_monthly`), which no project's webhooks receive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_key: Option<String>,
    /// The change feed position within the project (issues events only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<i64>,
    /// The resource's new state, shaped as the REST API shows it; for a delete, its identity
    /// only (`{"id": ...}`, plus `key` for issues and projects).
    pub data: serde_json::Value,
}

/// Every event type a consumer or a webhook endpoint may subscribe to, with what it means.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("project.created", "a project was created"),
    ("project.updated", "a project's name or description changed"),
    (
        "project.deleted",
        "a project was deleted with its issues and comments",
    ),
    ("member.added", "a user became a member of the project"),
    ("member.updated", "a member's role changed"),
    ("member.removed", "a member was removed from the project"),
    ("issue.created", "an issue was filed"),
    (
        "issue.updated",
        "an issue's fields changed (title, description, status, priority, assignee, labels, \
         resolution, due date, estimate, milestone)",
    ),
    ("issue.deleted", "an issue was deleted"),
    ("comment.created", "a comment was added to an issue"),
    ("comment.updated", "a comment was edited"),
    ("comment.deleted", "a comment was deleted"),
    ("milestone.created", "a milestone was created"),
    (
        "milestone.updated",
        "a milestone's title, description, due date or state changed",
    ),
    (
        "milestone.deleted",
        "a milestone was deleted (its issues were detached)",
    ),
    (
        "relation.added",
        "two issues were related (blocks, duplicates, relates to, parent of)",
    ),
    (
        "relation.removed",
        "a relation between two issues was removed",
    ),
    (
        "attachment.added",
        "a file was attached to an issue or one of its comments (confirmed and verified)",
    ),
    (
        "attachment.removed",
        "an attachment was deleted (not sent when its issue, comment or project is deleted)",
    ),
    (
        "job.state_changed",
        "a project report job changed state (queued, running, retrying, succeeded, failed, cancelled)",
    ),
    (
        "schedule.report_ready",
        "the report of a scheduled run (a schedule with deliver_event) succeeded; data: the \
         schedule and the job",
    ),
    (
        "schedule.report_failed",
        "the report of a scheduled run (a schedule with deliver_event) failed; data: the \
         schedule and the job",
    ),
    (
        "webhook.endpoint_disabled",
        "a webhook endpoint of the project was disabled after its deliveries kept failing",
    ),
    (
        "webhook.ping",
        "a test event sent on request to one endpoint only",
    ),
];

/// Whether `name` is a known event type.
pub fn is_event_type(name: &str) -> bool {
    EVENT_TYPES.iter().any(|(known, _)| *known == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_reads_back_as_written_with_type_as_the_json_name() {
        let envelope = Envelope {
            id: "evt_0190f6a2-8b1e-7c3d-9f00-000000000001".to_owned(),
            event_type: "issue.updated".to_owned(),
            timestamp: "2026-12-01T10:00:00Z".parse().unwrap(),
            project_key: Some("ABC".to_owned()),
            cursor: Some(42),
            data: serde_json::json!({"key": "ABC-1"}),
        };
        let json = serde_json::to_value(&envelope).unwrap();
        assert_eq!(json["type"], "issue.updated");
        assert_eq!(json["cursor"], 42);
        assert_eq!(serde_json::from_value::<Envelope>(json).unwrap(), envelope);
    }

    #[test]
    fn only_listed_types_are_known() {
        assert!(is_event_type("comment.deleted"));
        assert!(!is_event_type("issue.*"));
        assert!(!is_event_type(""));
    }
}
