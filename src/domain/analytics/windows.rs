//! Analysis windows, half-open `[start, end)`, all anchored on `as_of` (the day after the
//! tenant's latest decision) so results depend on data, not on the wall clock.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("as-of date {0} is too close to the calendar's limits to build windows")]
    OutOfRange(NaiveDate),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub start: NaiveDate,
    /// Exclusive.
    pub end: NaiveDate,
}

impl Window {
    pub fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date < self.end
    }

    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowPair {
    pub baseline: Window,
    pub current: Window,
}

/// `as_of` = the day after the latest decided date.
pub fn as_of_after(latest_decided: NaiveDate) -> Result<NaiveDate, WindowError> {
    latest_decided
        .checked_add_days(Days::new(1))
        .ok_or(WindowError::OutOfRange(latest_decided))
}

/// DriftWatch: current `[as_of−14, as_of)`, baseline the 90 days before it.
pub fn drift_windows(as_of: NaiveDate) -> Result<WindowPair, WindowError> {
    adjacent(as_of, 14, 90)
}

/// DenialScope compat: recent `[as_of−7, as_of)`, baseline the 21 days before it.
pub fn denial_windows(as_of: NaiveDate) -> Result<WindowPair, WindowError> {
    adjacent(as_of, 7, 21)
}

/// DenialScope sound: recent 14 days, baseline the 56 before (a 7-day window split a
/// two-week surge across both windows).
pub fn denial_windows_sound(as_of: NaiveDate) -> Result<WindowPair, WindowError> {
    adjacent(as_of, 14, 56)
}

/// DelayGuard sound trend: the last 28 days `[as_of−28, as_of)`, one point per day.
pub fn trend_days(as_of: NaiveDate) -> Result<Window, WindowError> {
    Ok(Window {
        start: before(as_of, 28)?,
        end: as_of,
    })
}

/// DelayGuard: current 14 days, baseline the 60 days before it.
pub fn delay_windows(as_of: NaiveDate) -> Result<WindowPair, WindowError> {
    adjacent(as_of, 14, 60)
}

/// DelayGuard trend: the last four 7-day weeks before `as_of`, oldest first.
pub fn trend_weeks(as_of: NaiveDate) -> Result<[Window; 4], WindowError> {
    let week = |k: u64| -> Result<Window, WindowError> {
        Ok(Window {
            start: before(as_of, 7 * (k + 1))?,
            end: before(as_of, 7 * k)?,
        })
    };
    Ok([week(3)?, week(2)?, week(1)?, week(0)?])
}

fn adjacent(
    as_of: NaiveDate,
    current_days: u64,
    baseline_days: u64,
) -> Result<WindowPair, WindowError> {
    let split = before(as_of, current_days)?;
    Ok(WindowPair {
        baseline: Window {
            start: before(as_of, current_days + baseline_days)?,
            end: split,
        },
        current: Window {
            start: split,
            end: as_of,
        },
    })
}

fn before(as_of: NaiveDate, days: u64) -> Result<NaiveDate, WindowError> {
    as_of
        .checked_sub_days(Days::new(days))
        .ok_or(WindowError::OutOfRange(as_of))
}

/// Windows chosen by their last day, as people name them: a card says "14 days to
/// 2026-11-22", that day included, while the window is stored half-open (its `end` is the
/// day after). The portal's feed and the API's findings both filter through this, so a
/// date means the same on both. Either side may be open; `from` after `to` is refused.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LastDays {
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
}

/// `from` names a later day than `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("'from' is after 'to'")]
pub struct FromAfterTo;

impl LastDays {
    /// Windows whose last day is on or after `from` and on or before `to`.
    pub fn new(from: Option<NaiveDate>, to: Option<NaiveDate>) -> Result<LastDays, FromAfterTo> {
        match (from, to) {
            (Some(f), Some(t)) if f > t => Err(FromAfterTo),
            _ => Ok(LastDays { from, to }),
        }
    }

    /// Windows whose last day is on or after `from`.
    pub fn since(from: NaiveDate) -> LastDays {
        LastDays {
            from: Some(from),
            to: None,
        }
    }

    /// The same bounds on a stored window's exclusive `end`: each day plus one, both
    /// inclusive.
    pub fn end_bounds(&self) -> (Option<NaiveDate>, Option<NaiveDate>) {
        (
            self.from.and_then(|d| d.succ_opt()),
            self.to.and_then(|d| d.succ_opt()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_days_bound_the_exclusive_end_one_day_later() {
        let d = |day| NaiveDate::from_ymd_opt(2026, 11, day).expect("date");
        let range = LastDays::new(Some(d(1)), Some(d(22))).expect("ordered");
        // A window "to 2026-11-22" is stored with end 2026-11-23.
        assert_eq!(range.end_bounds(), (Some(d(2)), Some(d(23))));
        assert_eq!(
            LastDays::new(None, Some(d(5)))
                .expect("open")
                .end_bounds()
                .0,
            None
        );
        assert_eq!(LastDays::new(Some(d(2)), Some(d(1))), Err(FromAfterTo));
        assert!(LastDays::new(Some(d(1)), Some(d(1))).is_ok(), "one day");
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn drift_windows_are_adjacent_and_half_open() {
        let as_of = as_of_after(date(2026, 3, 31)).expect("in range");
        assert_eq!(as_of, date(2026, 4, 1));
        let w = drift_windows(as_of).expect("in range");
        assert_eq!(w.current.start, date(2026, 3, 18));
        assert_eq!(w.baseline.end, w.current.start);
        assert_eq!((w.current.days(), w.baseline.days()), (14, 90));
        assert!(w.current.contains(date(2026, 3, 31)));
        assert!(!w.current.contains(as_of));
        assert!(!w.baseline.contains(w.current.start));
    }

    #[test]
    fn product_window_lengths() {
        let as_of = date(2026, 1, 10);
        let d = denial_windows(as_of).expect("in range");
        assert_eq!((d.current.days(), d.baseline.days()), (7, 21));
        assert_eq!(d.baseline.start, date(2025, 12, 13));
        let g = delay_windows(as_of).expect("in range");
        assert_eq!((g.current.days(), g.baseline.days()), (14, 60));
        let weeks = trend_weeks(as_of).expect("in range");
        assert_eq!(weeks[0].start, date(2025, 12, 13));
        assert_eq!(weeks[3].end, as_of);
        assert!(
            weeks
                .windows(2)
                .all(|p| p[0].end == p[1].start && p[0].days() == 7)
        );
    }

    #[test]
    fn calendar_edges_are_errors_not_panics() {
        assert!(drift_windows(NaiveDate::MIN).is_err());
        assert!(as_of_after(NaiveDate::MAX).is_err());
    }
}
