//! A payer's scorecard (issue 19 item 2): its figures month by month and for the latest
//! period against the period before and against the tenant's other payers. Pure logic:
//! the periods from the anchor date, and the figures from grouped counts (medians from
//! the decision-days histogram, so no claim is ever loaded one by one).

use chrono::{Datelike, Duration, NaiveDate};

/// Days in a scorecard period: a month of decisions, against the month before (the
/// monthly figures a billing lead brings to a payer meeting; long enough for a stable
/// rate, short enough that the prior period is inside a few months of uploaded data).
pub const PERIOD_DAYS: i64 = 30;
/// Months on the monthly chart and table.
pub const MONTHS: u32 = 12;

/// The two periods compared, both `[start, end)`: the latest [`PERIOD_DAYS`] days of data
/// up to and including the anchor (the tenant's latest decision date, as the analytics
/// anchor their windows), and the same number of days before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Periods {
    pub prior: (NaiveDate, NaiveDate),
    pub current: (NaiveDate, NaiveDate),
}

impl Periods {
    pub fn ending_on(anchor: NaiveDate) -> Self {
        let end = anchor + Duration::days(1);
        let mid = end - Duration::days(PERIOD_DAYS);
        Periods {
            prior: (mid - Duration::days(PERIOD_DAYS), mid),
            current: (mid, end),
        }
    }
}

/// The first day of the month `months_back` months before `date`'s month.
fn month_start(date: NaiveDate, months_back: u32) -> NaiveDate {
    let index = date.year() * 12 + date.month0() as i32 - months_back as i32;
    NaiveDate::from_ymd_opt(index.div_euclid(12), index.rem_euclid(12) as u32 + 1, 1)
        .unwrap_or(date)
}

/// The [`MONTHS`] calendar months ending with the anchor's month, oldest first, as
/// (`YYYY-MM` key, first day); and the span `[start, end)` they cover up to the anchor.
pub fn months_ending(anchor: NaiveDate) -> (Vec<(String, NaiveDate)>, (NaiveDate, NaiveDate)) {
    let months: Vec<(String, NaiveDate)> = (0..MONTHS)
        .rev()
        .map(|back| {
            let first = month_start(anchor, back);
            (first.format("%Y-%m").to_string(), first)
        })
        .collect();
    let start = months.first().map_or(anchor, |(_, d)| *d);
    (months, (start, anchor + Duration::days(1)))
}

/// Decided claims (paid or denied) of one payer — or of all the others — in one month or
/// period.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Figures {
    pub paid: i64,
    pub denied: i64,
    pub paid_cents: i64,
    pub denied_cents: i64,
    /// decision days → claims, for the median.
    days: Vec<(i32, i64)>,
}

impl Figures {
    /// Adds a grouped count: `n` claims with this outcome and decision days, worth `cents`.
    pub fn add(&mut self, denied: bool, decision_days: i32, n: i64, cents: i64) {
        if denied {
            self.denied += n;
            self.denied_cents += cents;
        } else {
            self.paid += n;
            self.paid_cents += cents;
        }
        // Kept sorted by days, so equal figures compare equal whatever order they were
        // added in.
        match self.days.binary_search_by_key(&decision_days, |(d, _)| *d) {
            Ok(i) => self.days[i].1 += n,
            Err(i) => self.days.insert(i, (decision_days, n)),
        }
    }

    pub fn decided(&self) -> i64 {
        self.paid + self.denied
    }

    /// Denied among decided, or `None` with no decided claim.
    pub fn denial_rate(&self) -> Option<f64> {
        (self.decided() > 0).then(|| self.denied as f64 / self.decided() as f64)
    }

    /// The median decision days (the mean of the two middle claims for an even count).
    pub fn median_days(&self) -> Option<f64> {
        let total = self.decided();
        if total == 0 {
            return None;
        }
        let mut days = self.days.clone();
        days.sort_unstable_by_key(|(d, _)| *d);
        // 0-based ranks of the middle claim(s).
        let (lo, hi) = ((total - 1) / 2, total / 2);
        let mut seen = 0;
        let (mut at_lo, mut at_hi) = (None, None);
        for (d, n) in days {
            let next = seen + n;
            if at_lo.is_none() && lo < next {
                at_lo = Some(d);
            }
            if at_hi.is_none() && hi < next {
                at_hi = Some(d);
                break;
            }
            seen = next;
        }
        Some((f64::from(at_lo?) + f64::from(at_hi?)) / 2.0)
    }
}

/// Denials with one reason code in a period: of this payer, and of the other payers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReasonCounts {
    /// `None`: denials recorded without a code.
    pub code: Option<String>,
    pub current: i64,
    pub prior: i64,
    pub others_current: i64,
    pub current_cents: i64,
}

/// The reasons with the most denials of this payer in the current period (then the prior
/// one), at most `limit`, with their shares of the payer's — and the other payers' —
/// denials.
pub fn top_reasons(mut reasons: Vec<ReasonCounts>, limit: usize) -> Vec<ReasonCounts> {
    reasons.retain(|r| r.current > 0 || r.prior > 0);
    reasons.sort_by(|a, b| {
        b.current
            .cmp(&a.current)
            .then(b.prior.cmp(&a.prior))
            .then(a.code.cmp(&b.code))
    });
    reasons.truncate(limit);
    reasons
}

/// `part / whole`, or `None` for an empty whole.
pub fn share(part: i64, whole: i64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("date")
    }

    #[test]
    fn periods_are_thirty_days_ending_with_the_anchor_day() {
        let p = Periods::ending_on(date(2026, 3, 31));
        assert_eq!(p.current, (date(2026, 3, 2), date(2026, 4, 1)));
        assert_eq!(p.prior, (date(2026, 1, 31), date(2026, 3, 2)));
        assert_eq!((p.current.1 - p.current.0).num_days(), PERIOD_DAYS);
        assert_eq!((p.prior.1 - p.prior.0).num_days(), PERIOD_DAYS);
    }

    #[test]
    fn twelve_months_end_with_the_anchor_month_across_a_year_boundary() {
        let (months, span) = months_ending(date(2026, 2, 14));
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], ("2025-03".to_string(), date(2025, 3, 1)));
        assert_eq!(months[11], ("2026-02".to_string(), date(2026, 2, 1)));
        assert_eq!(span, (date(2025, 3, 1), date(2026, 2, 15)));
    }

    #[test]
    fn figures_give_rate_dollars_and_the_histogram_median() {
        let mut f = Figures::default();
        assert_eq!(f.denial_rate(), None);
        assert_eq!(f.median_days(), None);
        f.add(false, 10, 3, 300);
        f.add(true, 30, 1, 50);
        // days: 10,10,10,30 → median 10
        assert_eq!(f.median_days(), Some(10.0));
        assert_eq!(f.denial_rate(), Some(0.25));
        f.add(true, 40, 2, 70);
        // days: 10,10,10,30,40,40 → (10 + 30) / 2
        assert_eq!(f.median_days(), Some(20.0));
        assert_eq!((f.paid_cents, f.denied_cents), (300, 120));
        f.add(false, 5, 1, 0);
        // 5,10,10,10,30,40,40 → 10
        assert_eq!(f.median_days(), Some(10.0));
    }

    #[test]
    fn top_reasons_rank_by_current_denials_and_drop_empty_ones() {
        let r = |code: &str, current, prior| ReasonCounts {
            code: Some(code.to_string()),
            current,
            prior,
            others_current: 0,
            current_cents: 0,
        };
        let top = top_reasons(
            vec![
                r("CO-16", 5, 9),
                r("CO-197", 20, 2),
                r("PR-1", 0, 0),
                r("CO-45", 5, 10),
            ],
            2,
        );
        let codes: Vec<_> = top
            .iter()
            .map(|t| t.code.clone().unwrap_or_default())
            .collect();
        assert_eq!(codes, ["CO-197", "CO-45"]);
        assert_eq!(share(1, 4), Some(0.25));
        assert_eq!(share(1, 0), None);
    }
}
