//! Which claims stand behind a finding: its payer, its group (a CPT group, or for
//! DenialScope the denial reason code) and its two windows, by the date its mode buckets
//! on (sound: decided; compat: submitted). Pure: the repository turns it into SQL.

use chrono::NaiveDate;

/// The claims behind one finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimSelection {
    pub payer: String,
    pub cpt_group: Option<String>,
    pub reason_code: Option<String>,
    /// Windows by submitted date (compat mode) instead of decided date.
    pub by_submitted: bool,
    /// Half-open `[start, end)`, as the analytics windows are.
    pub baseline: (NaiveDate, NaiveDate),
    pub current: (NaiveDate, NaiveDate),
}

/// What a finding says about its claims (the fields of a stored finding).
pub struct FindingScope<'a> {
    pub product: &'a str,
    pub mode: &'a str,
    pub payer: &'a str,
    pub group: &'a str,
    pub baseline: (NaiveDate, NaiveDate),
    pub current: (NaiveDate, NaiveDate),
}

impl ClaimSelection {
    pub fn of(f: &FindingScope<'_>) -> ClaimSelection {
        let group = Some(f.group.trim().to_string()).filter(|g| !g.is_empty());
        // DenialScope findings are keyed by reason code; the others by CPT group, and a
        // payer-level finding (empty group) covers all of the payer's claims.
        let (cpt_group, reason_code) = if f.product == "denial_scope" {
            (None, group)
        } else {
            (group, None)
        };
        ClaimSelection {
            payer: f.payer.to_string(),
            cpt_group,
            reason_code,
            by_submitted: f.mode == "compat",
            baseline: f.baseline,
            current: f.current,
        }
    }

    /// "baseline", "current" or "" for a date (the bucketing date of a claim).
    pub fn window_of(&self, date: NaiveDate) -> &'static str {
        let inside = |(start, end): (NaiveDate, NaiveDate)| date >= start && date < end;
        if inside(self.current) {
            "current"
        } else if inside(self.baseline) {
            "baseline"
        } else {
            ""
        }
    }
}

/// How the claim list is ordered (`sort` parameter); every order ends with the id so
/// pages never overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClaimSort {
    #[default]
    Decided,
    Submitted,
    Days,
    Amount,
    Cpt,
    Reason,
}

impl ClaimSort {
    pub const ALL: [ClaimSort; 6] = [
        ClaimSort::Decided,
        ClaimSort::Submitted,
        ClaimSort::Days,
        ClaimSort::Amount,
        ClaimSort::Cpt,
        ClaimSort::Reason,
    ];

    pub fn parse(s: &str) -> Option<ClaimSort> {
        ClaimSort::ALL.into_iter().find(|v| v.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ClaimSort::Decided => "decided",
            ClaimSort::Submitted => "submitted",
            ClaimSort::Days => "days",
            ClaimSort::Amount => "amount",
            ClaimSort::Cpt => "cpt",
            ClaimSort::Reason => "reason",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, day).expect("date")
    }

    #[test]
    fn denial_scope_groups_are_reason_codes_and_windows_are_half_open() {
        let s = ClaimSelection::of(&FindingScope {
            product: "denial_scope",
            mode: "sound",
            payer: "UnitedHealthcare",
            group: "CO-197",
            baseline: (d(1), d(15)),
            current: (d(15), d(29)),
        });
        assert_eq!(s.reason_code.as_deref(), Some("CO-197"));
        assert_eq!(s.cpt_group, None);
        assert!(!s.by_submitted);
        assert_eq!(s.window_of(d(14)), "baseline");
        assert_eq!(s.window_of(d(15)), "current");
        assert_eq!(s.window_of(d(29)), "");
        let p = ClaimSelection::of(&FindingScope {
            product: "delay_guard",
            mode: "compat",
            payer: "Humana",
            group: "",
            baseline: (d(1), d(15)),
            current: (d(15), d(29)),
        });
        assert_eq!(
            (p.cpt_group, p.reason_code, p.by_submitted),
            (None, None, true)
        );
    }
}
