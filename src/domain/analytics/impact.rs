//! Money at stake and the sound-mode severity label (ANALYTICS.md "Money per finding",
//! "Severity"). A billing lead ranks work by dollars; the size of the change only sets a
//! floor on the label (and decides alone when the files carry no amounts). Certainty is
//! already spent: a finding exists only when its q-value passed the run's BH family.

use crate::domain::stats::SeverityLabel;

const MONTH_DAYS: f64 = 30.0;

/// Denial rate: `Δ × allowed $ decided in the current window × 30 / len(current)` — the
/// extra dollars denied per month if the new rate holds. `None` without amounts.
pub fn rate_change_per_month(
    delta: f64,
    current_allowed_cents: i64,
    current_days: u32,
) -> Option<f64> {
    (current_allowed_cents > 0 && current_days > 0).then(|| {
        delta * current_allowed_cents as f64 / 100.0 * MONTH_DAYS / f64::from(current_days)
    })
}

/// Reason surge: `(recent − baseline) denied $ per day × 30`.
pub fn surge_per_month(
    recent_cents: i64,
    recent_days: u32,
    baseline_cents: i64,
    baseline_days: u32,
) -> Option<f64> {
    if recent_cents <= 0 || recent_days == 0 || baseline_days == 0 {
        return None;
    }
    let per_day = |cents: i64, days: u32| cents as f64 / 100.0 / f64::from(days);
    Some((per_day(recent_cents, recent_days) - per_day(baseline_cents, baseline_days)) * MONTH_DAYS)
}

/// Slowdown: allowed $ decided per day in the current window × shift days — the cash held
/// up at any moment by the extra days.
pub fn cash_held_up(current_allowed_cents: i64, current_days: u32, shift_days: f64) -> Option<f64> {
    (current_allowed_cents > 0 && current_days > 0)
        .then(|| current_allowed_cents as f64 / 100.0 / f64::from(current_days) * shift_days)
}

/// What a finding changed, for the size floor of its label.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ChangeSize {
    /// Denial-rate change, as a fraction (0.05 = 5 points).
    Rate(f64),
    /// Decision-time shift in days.
    Days(f64),
    /// A share or a volume: only money ranks it.
    Other,
}

/// **critical** ≥ $25,000 per 30 days, **high** ≥ $5,000, **medium** ≥ $1,000, else low; a
/// rate change ≥ 20 points or a shift ≥ 10 days is at least high, ≥ 10 points or ≥ 5 days at
/// least medium.
pub fn severity(money: Option<f64>, size: ChangeSize) -> SeverityLabel {
    let by_money = money.map_or(SeverityLabel::Low, |m| {
        SeverityLabel::tier(m.abs(), [1_000.0, 5_000.0, 25_000.0])
    });
    let by_size = match size {
        ChangeSize::Rate(d) if d.abs() >= 0.20 => SeverityLabel::High,
        ChangeSize::Rate(d) if d.abs() >= 0.10 => SeverityLabel::Medium,
        ChangeSize::Days(d) if d.abs() >= 10.0 => SeverityLabel::High,
        ChangeSize::Days(d) if d.abs() >= 5.0 => SeverityLabel::Medium,
        _ => SeverityLabel::Low,
    };
    by_money.max(by_size)
}

/// A finding's money in words, as cards, alert titles and notifications say it:
/// "$12,400 a month more denied" (denial rates, reason shares and surges, per 30 days);
/// "$60,000 of payments held up" (slowdowns: the cash the extra days hold up at any moment).
pub fn money_words(kind: Option<super::FindingKind>, dollars: f64) -> String {
    use super::FindingKind as K;
    let amount = crate::domain::format::dollars(dollars.abs());
    let worse = dollars >= 0.0;
    match kind {
        Some(K::DecisionTime | K::Slowdown | K::Trend) if worse => {
            format!("{amount} of payments held up")
        }
        Some(K::DecisionTime | K::Slowdown | K::Trend) => format!("{amount} of payments freed"),
        _ if worse => format!("{amount} a month more denied"),
        _ => format!("{amount} a month less denied"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SeverityLabel::*;

    #[test]
    fn rate_money_scales_the_window_to_thirty_days() {
        // +34 points on $140,000 allowed over 14 days → 0.34 × 140,000 × 30/14 = $102,000.
        let m = rate_change_per_month(0.34, 14_000_000, 14).expect("amounts");
        assert!((m - 102_000.0).abs() < 1e-6, "{m}");
        assert_eq!(rate_change_per_month(0.34, 0, 14), None);
    }

    #[test]
    fn surge_money_is_the_rise_in_denied_dollars_per_day() {
        // $14,000 over 14 days vs $28,000 over 56 days: $1,000 − $500 a day → $15,000.
        let m = surge_per_month(1_400_000, 14, 2_800_000, 56).expect("amounts");
        assert!((m - 15_000.0).abs() < 1e-6, "{m}");
    }

    #[test]
    fn slowdown_money_is_cash_held_up() {
        // $70,000 decided over 14 days = $5,000/day, 12 days slower → $60,000 held up.
        let m = cash_held_up(7_000_000, 14, 12.0).expect("amounts");
        assert!((m - 60_000.0).abs() < 1e-6, "{m}");
    }

    #[test]
    fn labels_by_money_with_size_floors() {
        assert_eq!(severity(Some(25_000.0), ChangeSize::Other), Critical);
        assert_eq!(severity(Some(24_999.0), ChangeSize::Other), High);
        assert_eq!(severity(Some(5_000.0), ChangeSize::Other), High);
        assert_eq!(severity(Some(1_000.0), ChangeSize::Other), Medium);
        assert_eq!(severity(Some(999.0), ChangeSize::Other), Low);
        assert_eq!(severity(None, ChangeSize::Rate(0.20)), High);
        assert_eq!(severity(Some(10.0), ChangeSize::Rate(0.10)), Medium);
        assert_eq!(severity(None, ChangeSize::Days(10.0)), High);
        assert_eq!(severity(None, ChangeSize::Days(5.0)), Medium);
        assert_eq!(severity(None, ChangeSize::Days(4.9)), Low);
        // Money wins when it says more than the size.
        assert_eq!(severity(Some(30_000.0), ChangeSize::Rate(0.06)), Critical);
    }

    #[test]
    fn money_reads_in_words_with_separators() {
        use crate::domain::analytics::FindingKind;
        assert_eq!(
            money_words(Some(FindingKind::DenialRate), 12_400.4),
            "$12,400 a month more denied"
        );
        assert_eq!(
            money_words(Some(FindingKind::ReasonShareSpike), -830.0),
            "$830 a month less denied"
        );
        assert_eq!(
            money_words(Some(FindingKind::Slowdown), 60_000.0),
            "$60,000 of payments held up"
        );
        assert_eq!(
            money_words(None, 1_000_000.0),
            "$1,000,000 a month more denied"
        );
    }

    #[test]
    fn a_big_jump_on_a_busy_group_outranks_a_small_share_change() {
        // The demo case: Cigna × IMAGING 11 % → 47 % on ~$60,000 a fortnight vs a
        // 3-point rise of one reason's share worth a few hundred dollars.
        let jump = rate_change_per_month(0.36, 6_000_000, 14);
        let share = surge_per_month(90_000, 14, 300_000, 56);
        assert!(jump > share);
        assert!(severity(jump, ChangeSize::Rate(0.36)) > severity(share, ChangeSize::Other));
    }
}
