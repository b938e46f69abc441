//! Notifications: why a user is told about a change.

use std::{fmt, str::FromStr};

/// Why a user is notified of a change. When one change gives a user several, the strongest is
/// kept (the database's `notification_reason_rank` orders them the same way as this enum).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum NotificationReason {
    /// Something changed on an issue they watch.
    Watching,
    /// The status of an issue they watch changed.
    StatusChanged,
    /// They were named with `@username`.
    Mentioned,
    /// They were made the assignee.
    Assigned,
}

impl NotificationReason {
    pub const ALL: &'static [NotificationReason] = &[
        NotificationReason::Assigned,
        NotificationReason::Mentioned,
        NotificationReason::Watching,
        NotificationReason::StatusChanged,
    ];

    /// The lower snake case wire and database name.
    pub fn as_str(self) -> &'static str {
        match self {
            NotificationReason::Watching => "watching",
            NotificationReason::StatusChanged => "status_changed",
            NotificationReason::Mentioned => "mentioned",
            NotificationReason::Assigned => "assigned",
        }
    }
}

impl FromStr for NotificationReason {
    type Err = ();

    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL
            .iter()
            .copied()
            .find(|r| r.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for NotificationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_back_from_their_names_and_assigned_is_the_strongest() {
        for reason in NotificationReason::ALL {
            assert_eq!(reason.as_str().parse(), Ok(*reason));
        }
        assert_eq!("unknown".parse::<NotificationReason>(), Err(()));
        assert_eq!(
            NotificationReason::ALL.iter().max(),
            Some(&NotificationReason::Assigned)
        );
        assert!(NotificationReason::Mentioned > NotificationReason::StatusChanged);
        assert!(NotificationReason::StatusChanged > NotificationReason::Watching);
    }
}
