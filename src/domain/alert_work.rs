//! Working alerts as a team (issue 19 item 3): the orders the alert list offers, the
//! actions a bulk form may take, and the checks on comments and saved filters. Pure:
//! the repository and services apply them.

use crate::domain::alerts::AlertStatus;

/// How the alert list is ordered (`sort` on `/portal/alerts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AlertSort {
    /// Newest first (the default: what came in last).
    #[default]
    Newest,
    /// Oldest first: what has waited longest.
    Oldest,
    /// Most dollars per month at stake first; alerts without money (data quality) last.
    Money,
    /// Highest severity first.
    Severity,
    /// Earliest due date first; alerts without one last.
    Due,
}

impl AlertSort {
    pub const ALL: [AlertSort; 5] = [
        AlertSort::Newest,
        AlertSort::Oldest,
        AlertSort::Money,
        AlertSort::Severity,
        AlertSort::Due,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AlertSort::Newest => "newest",
            AlertSort::Oldest => "oldest",
            AlertSort::Money => "money",
            AlertSort::Severity => "severity",
            AlertSort::Due => "due",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            AlertSort::Newest => "Newest first",
            AlertSort::Oldest => "Oldest first",
            AlertSort::Money => "Most money at stake",
            AlertSort::Severity => "Most severe",
            AlertSort::Due => "Due soonest",
        }
    }

    pub fn parse(s: &str) -> Option<AlertSort> {
        AlertSort::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

/// Whose alerts the list shows (`assignee` on `/portal/alerts`: `me`, `none` or a
/// member's id; the handler resolves `me`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssigneeFilter {
    Unassigned,
    User(i64),
}

/// The verdict filter: alerts someone judged so, or alerts nobody judged yet.
pub const NOT_JUDGED: &str = "none";

/// What the bulk form on the alert list does to every ticked alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkAction {
    Acknowledge,
    Resolve,
    Assign,
}

crate::domain::names::from_stored_name!(BulkAction, "bulk action");

impl BulkAction {
    pub const ALL: [BulkAction; 3] = [
        BulkAction::Acknowledge,
        BulkAction::Resolve,
        BulkAction::Assign,
    ];

    /// The action posted as `s` (its `as_str`).
    pub fn parse(s: &str) -> Option<BulkAction> {
        s.parse().ok()
    }

    /// The form's value.
    pub fn as_str(self) -> &'static str {
        match self {
            BulkAction::Acknowledge => "acknowledge",
            BulkAction::Resolve => "resolve",
            BulkAction::Assign => "assign",
        }
    }

    /// The status an alert moves to (none for assigning).
    pub fn status(self) -> Option<&'static str> {
        match self {
            BulkAction::Acknowledge => Some(AlertStatus::Acknowledged.as_str()),
            BulkAction::Resolve => Some(AlertStatus::Resolved.as_str()),
            BulkAction::Assign => None,
        }
    }
}

/// The most alerts one bulk form may change (a page of the list is 25; this bounds a
/// crafted request, not a person).
pub const BULK_MAX: usize = 200;

/// Longest comment kept.
pub const COMMENT_MAX_CHARS: usize = 2000;

/// Longest saved-filter name and query string.
pub const FILTER_NAME_MAX_CHARS: usize = 60;
pub const FILTER_QUERY_MAX_CHARS: usize = 500;

/// The query parameters a saved alert filter may carry; anything else (a page number,
/// a stray parameter) is dropped when it is saved.
pub const ALERT_FILTER_KEYS: [&str; 7] = [
    "status", "severity", "product", "payer", "verdict", "assignee", "sort",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_and_actions_parse_their_own_names_only() {
        for s in AlertSort::ALL {
            assert_eq!(AlertSort::parse(s.as_str()), Some(s));
        }
        assert_eq!(AlertSort::parse("patient"), None);
        assert_eq!(AlertSort::default(), AlertSort::Newest);
        assert_eq!(
            BulkAction::parse("resolve").and_then(BulkAction::status),
            Some("resolved")
        );
        assert_eq!(
            BulkAction::parse("assign").and_then(BulkAction::status),
            None
        );
        assert_eq!(BulkAction::parse("delete"), None);
    }
}
