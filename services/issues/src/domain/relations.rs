//! Relations between issues: the kinds as seen from either end, how each is stored, the bounds
//! of sub-issue trees, and the path a refused cycle takes.

use std::{collections::HashMap, fmt, str::FromStr};

use uuid::Uuid;

use super::{Access, Role};

/// A relation as seen from one issue (the other end sees its inverse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelationKind {
    Blocks,
    BlockedBy,
    Duplicates,
    DuplicatedBy,
    RelatesTo,
    /// This issue is the parent of the other.
    ParentOf,
    /// This issue is a sub-issue of the other.
    ChildOf,
}

impl RelationKind {
    pub const ALL: &'static [RelationKind] = &[
        RelationKind::Blocks,
        RelationKind::BlockedBy,
        RelationKind::Duplicates,
        RelationKind::DuplicatedBy,
        RelationKind::RelatesTo,
        RelationKind::ParentOf,
        RelationKind::ChildOf,
    ];

    /// The lower snake case wire name (and the `field` of the history entries).
    pub fn as_str(self) -> &'static str {
        match self {
            RelationKind::Blocks => "blocks",
            RelationKind::BlockedBy => "blocked_by",
            RelationKind::Duplicates => "duplicates",
            RelationKind::DuplicatedBy => "duplicated_by",
            RelationKind::RelatesTo => "relates_to",
            RelationKind::ParentOf => "parent_of",
            RelationKind::ChildOf => "child_of",
        }
    }

    /// The same relation seen from the other issue.
    pub fn inverse(self) -> RelationKind {
        match self {
            RelationKind::Blocks => RelationKind::BlockedBy,
            RelationKind::BlockedBy => RelationKind::Blocks,
            RelationKind::Duplicates => RelationKind::DuplicatedBy,
            RelationKind::DuplicatedBy => RelationKind::Duplicates,
            RelationKind::RelatesTo => RelationKind::RelatesTo,
            RelationKind::ParentOf => RelationKind::ChildOf,
            RelationKind::ChildOf => RelationKind::ParentOf,
        }
    }

    /// How "`this` <kind> `other`" is stored: one row of `issue_relations` in its one direction,
    /// or the child's `parent_id`.
    pub fn link(self, this: Uuid, other: Uuid) -> Link {
        let edge = |kind, source, target| Link::Edge {
            kind,
            source,
            target,
        };
        match self {
            RelationKind::Blocks => edge(EdgeKind::Blocks, this, other),
            RelationKind::BlockedBy => edge(EdgeKind::Blocks, other, this),
            RelationKind::Duplicates => edge(EdgeKind::Duplicates, this, other),
            RelationKind::DuplicatedBy => edge(EdgeKind::Duplicates, other, this),
            // Undirected: stored once, from the smaller id.
            RelationKind::RelatesTo => edge(EdgeKind::RelatesTo, this.min(other), this.max(other)),
            RelationKind::ParentOf => Link::Parent {
                parent: this,
                child: other,
            },
            RelationKind::ChildOf => Link::Parent {
                parent: other,
                child: this,
            },
        }
    }

    /// A stored edge of `kind` seen from its source (`outgoing`) or its target.
    pub fn of_edge(kind: EdgeKind, outgoing: bool) -> RelationKind {
        match (kind, outgoing) {
            (EdgeKind::Blocks, true) => RelationKind::Blocks,
            (EdgeKind::Blocks, false) => RelationKind::BlockedBy,
            (EdgeKind::Duplicates, true) => RelationKind::Duplicates,
            (EdgeKind::Duplicates, false) => RelationKind::DuplicatedBy,
            (EdgeKind::RelatesTo, _) => RelationKind::RelatesTo,
        }
    }
}

impl FromStr for RelationKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        RelationKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == s)
            .ok_or(())
    }
}

impl fmt::Display for RelationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kinds stored as rows of `issue_relations` (`kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, sqlx::Type)]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum EdgeKind {
    Blocks,
    Duplicates,
    RelatesTo,
}

/// Where a relation lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// A row of `issue_relations`.
    Edge {
        kind: EdgeKind,
        source: Uuid,
        target: Uuid,
    },
    /// The child's `parent_id`.
    Parent { parent: Uuid, child: Uuid },
}

/// May a caller with `role` in an issue's project (`None`: not a member) add or remove its
/// relations? Triage: maintainers and owners (and admins). The other issue need only be visible.
pub fn authorize_relation_change(role: Option<Role>, admin: bool) -> Access {
    match role {
        _ if admin => Access::Allowed,
        None => Access::Hidden,
        Some(role) if role >= Role::Maintainer => Access::Allowed,
        Some(_) => Access::Forbidden,
    }
}

/// How many levels of sub-issues a top-level issue may have below it (as GitHub allows): an
/// issue has at most this many ancestors.
pub const MAX_SUB_ISSUE_DEPTH: usize = 8;
/// How many sub-issues one issue may have (as GitHub allows).
pub const MAX_SUB_ISSUES: i64 = 100;

/// Whether hanging a subtree `child_height` levels tall (0: a single issue) under an issue with
/// `parent_ancestors` ancestors keeps every issue within [`MAX_SUB_ISSUE_DEPTH`] ancestors.
pub fn depth_allows(parent_ancestors: usize, child_height: usize) -> bool {
    parent_ancestors + 1 + child_height <= MAX_SUB_ISSUE_DEPTH
}

/// The path from `start` to `goal` through `reached`, which maps each reached issue to the one
/// it was reached from (`start` maps to `None`). `None` when `goal` was not reached.
pub fn path_to(
    reached: &HashMap<Uuid, Option<Uuid>>,
    start: Uuid,
    goal: Uuid,
) -> Option<Vec<Uuid>> {
    let mut path = vec![goal];
    let mut at = goal;
    while at != start {
        at = (*reached.get(&at)?)?;
        if path.len() > reached.len() {
            return None;
        }
        path.push(at);
    }
    path.reverse();
    Some(path)
}

/// The cycle as people read it: `SWAT-1 → SWAT-2 → SWAT-1`.
pub fn cycle_text(keys: &[String]) -> String {
    keys.join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> (Uuid, Uuid) {
        let a = Uuid::from_u128(1);
        let b = Uuid::from_u128(2);
        (a, b)
    }

    #[test]
    fn each_kind_is_stored_in_one_direction_and_reads_back_from_both_ends() {
        let (a, b) = ids();
        use EdgeKind as E;
        use RelationKind as K;
        let table = [
            (K::Blocks, a, b, E::Blocks, a, b),
            (K::BlockedBy, a, b, E::Blocks, b, a),
            (K::Duplicates, a, b, E::Duplicates, a, b),
            (K::DuplicatedBy, a, b, E::Duplicates, b, a),
            (K::RelatesTo, a, b, E::RelatesTo, a, b),
            (K::RelatesTo, b, a, E::RelatesTo, a, b),
        ];
        for (kind, this, other, stored, source, target) in table {
            assert_eq!(
                kind.link(this, other),
                Link::Edge {
                    kind: stored,
                    source,
                    target
                },
                "{kind}"
            );
            let outgoing = this == source;
            if kind != K::RelatesTo {
                assert_eq!(K::of_edge(stored, outgoing), kind, "{kind}");
                assert_eq!(K::of_edge(stored, !outgoing), kind.inverse(), "{kind}");
            }
        }
        assert_eq!(
            K::ParentOf.link(a, b),
            Link::Parent {
                parent: a,
                child: b
            }
        );
        assert_eq!(
            K::ChildOf.link(a, b),
            Link::Parent {
                parent: b,
                child: a
            }
        );
    }

    #[test]
    fn wire_names_round_trip_and_inverses_are_involutions() {
        for kind in RelationKind::ALL {
            assert_eq!(kind.as_str().parse::<RelationKind>(), Ok(*kind));
            assert_eq!(kind.inverse().inverse(), *kind);
        }
        for bad in ["", "Blocks", "block", "parent", "relates-to"] {
            assert!(bad.parse::<RelationKind>().is_err(), "{bad}");
        }
    }

    #[test]
    fn maintainers_owners_and_admins_change_relations_and_non_members_see_nothing() {
        use Access::*;
        let table = [
            (None, Hidden),
            (Some(Role::Viewer), Forbidden),
            (Some(Role::Reporter), Forbidden),
            (Some(Role::Maintainer), Allowed),
            (Some(Role::Owner), Allowed),
        ];
        for (role, want) in table {
            assert_eq!(authorize_relation_change(role, false), want, "{role:?}");
            assert_eq!(authorize_relation_change(role, true), Allowed, "{role:?}");
        }
    }

    #[test]
    fn sub_issue_trees_are_at_most_eight_levels_below_their_top() {
        // (ancestors of the new parent, height of the subtree moved under it, allowed)
        for (ancestors, height, allowed) in [
            (0, 0, true),
            (7, 0, true),
            (8, 0, false),
            (0, 7, true),
            (0, 8, false),
            (3, 4, true),
            (4, 4, false),
        ] {
            assert_eq!(
                depth_allows(ancestors, height),
                allowed,
                "{ancestors} + {height}"
            );
        }
    }

    #[test]
    fn a_path_is_read_back_from_the_reached_map() {
        let [a, b, c, d] = [1, 2, 3, 4].map(Uuid::from_u128);
        let reached = HashMap::from([(a, None), (b, Some(a)), (c, Some(b)), (d, Some(a))]);
        assert_eq!(path_to(&reached, a, c), Some(vec![a, b, c]));
        assert_eq!(path_to(&reached, a, a), Some(vec![a]));
        assert_eq!(path_to(&reached, a, Uuid::from_u128(9)), None);
        assert_eq!(
            cycle_text(&["SWAT-1".into(), "SWAT-2".into(), "SWAT-1".into()]),
            "SWAT-1 → SWAT-2 → SWAT-1"
        );
    }
}
