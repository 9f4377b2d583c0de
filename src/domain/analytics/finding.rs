//! The output vocabulary shared by all products: `Finding` (one tested or fired group with
//! its evidence, stored as JSON), `RunOutcome` (one run's findings and its insufficient
//! groups), and the BH step that turns a family of p-values into q-values and significance.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::names::{UnknownName, from_stored_name};
use crate::domain::stats::{Interval, SeverityLabel, TestMethod, benjamini_hochberg};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    DriftWatch,
    DenialScope,
    DelayGuard,
}

impl Product {
    pub const ALL: [Product; 3] = [Self::DriftWatch, Self::DenialScope, Self::DelayGuard];

    /// The stored name (report runs, drift events, alert rules, CLI `--product`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DriftWatch => "drift_watch",
            Self::DenialScope => "denial_scope",
            Self::DelayGuard => "delay_guard",
        }
    }

    /// The product's name as people read it.
    pub fn label(self) -> &'static str {
        match self {
            Self::DriftWatch => "DriftWatch",
            Self::DenialScope => "DenialScope",
            Self::DelayGuard => "DelayGuard",
        }
    }

    /// The kinds of finding this product raises, in the order its page offers them.
    pub fn kinds(self) -> &'static [FindingKind] {
        use FindingKind::*;
        match self {
            Self::DriftWatch => &[DenialRate, DecisionTime],
            Self::DenialScope => &[
                NewReason,
                ReasonShareSpike,
                VolumeSpike,
                DollarsSpike,
                NewDenialReason,
                DenialRateSpike,
                DenialVolumeSpike,
                DenialDollarsSpike,
            ],
            Self::DelayGuard => &[Slowdown, Trend],
        }
    }
}

/// Accepts the stored name and the spellings people type on the command line and in rule
/// forms (`DriftWatch`, `drift-watch`, `drift`, `denials`, `delays`).
impl FromStr for Product {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s
            .trim()
            .to_ascii_lowercase()
            .replace(['-', ' '], "_")
            .as_str()
        {
            "drift_watch" | "driftwatch" | "drift" => Ok(Self::DriftWatch),
            "denial_scope" | "denialscope" | "denials" => Ok(Self::DenialScope),
            "delay_guard" | "delayguard" | "delays" => Ok(Self::DelayGuard),
            _ => Err(UnknownName::new("product", s)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Sound,
    Compat,
}

impl Mode {
    pub const ALL: [Mode; 2] = [Self::Sound, Self::Compat];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sound => "sound",
            Self::Compat => "compat",
        }
    }
}

from_stored_name!(Mode, "mode");

/// Which claim date puts a claim into a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketDate {
    Decided,
    Submitted,
}

impl Mode {
    /// Sound mode buckets by decision date (no right-censoring of the newest window); compat
    /// reproduces the old system, which bucketed by submission date.
    pub fn bucket_date(self) -> BucketDate {
        match self {
            Mode::Sound => BucketDate::Decided,
            Mode::Compat => BucketDate::Submitted,
        }
    }
}

/// Event kinds. Compat kinds keep the old system's names so side-by-side comparison is
/// direct; sound kinds use ANALYTICS.md's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// DriftWatch, both modes.
    DenialRate,
    /// DriftWatch, both modes.
    DecisionTime,
    NewReason,
    ReasonShareSpike,
    VolumeSpike,
    DollarsSpike,
    NewDenialReason,
    DenialRateSpike,
    DenialVolumeSpike,
    DenialDollarsSpike,
    /// DelayGuard current window vs baseline, both modes.
    Slowdown,
    /// DelayGuard weekly trend (WORSENING), both modes.
    Trend,
}

impl FindingKind {
    pub const ALL: [FindingKind; 12] = [
        Self::DenialRate,
        Self::DecisionTime,
        Self::NewReason,
        Self::ReasonShareSpike,
        Self::VolumeSpike,
        Self::DollarsSpike,
        Self::NewDenialReason,
        Self::DenialRateSpike,
        Self::DenialVolumeSpike,
        Self::DenialDollarsSpike,
        Self::Slowdown,
        Self::Trend,
    ];

    /// What the finding's baseline, current value and change measure.
    pub fn unit(self) -> ValueUnit {
        match self {
            Self::DenialRate | Self::NewReason | Self::ReasonShareSpike | Self::DenialRateSpike => {
                ValueUnit::Share
            }
            Self::DecisionTime | Self::Slowdown | Self::Trend => ValueUnit::Days,
            Self::VolumeSpike => ValueUnit::DenialsPerDay,
            Self::NewDenialReason | Self::DenialVolumeSpike => ValueUnit::Denials,
            Self::DollarsSpike | Self::DenialDollarsSpike => ValueUnit::Dollars,
        }
    }

    /// The kind as people read it ("denial rate", "reason share spike").
    pub fn label(self) -> &'static str {
        match self {
            Self::DenialRate => "denial rate",
            Self::DecisionTime => "decision time",
            Self::NewReason => "new reason",
            Self::ReasonShareSpike => "reason share spike",
            Self::VolumeSpike => "volume spike",
            Self::DollarsSpike => "dollars spike",
            Self::NewDenialReason => "new denial reason",
            Self::DenialRateSpike => "denial rate spike",
            Self::DenialVolumeSpike => "denial volume spike",
            Self::DenialDollarsSpike => "denial dollars spike",
            Self::Slowdown => "slowdown",
            Self::Trend => "trend",
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::DenialRate => "denial_rate",
            Self::DecisionTime => "decision_time",
            Self::NewReason => "new_reason",
            Self::ReasonShareSpike => "reason_share_spike",
            Self::VolumeSpike => "volume_spike",
            Self::DollarsSpike => "dollars_spike",
            Self::NewDenialReason => "new_denial_reason",
            Self::DenialRateSpike => "denial_rate_spike",
            Self::DenialVolumeSpike => "denial_volume_spike",
            Self::DenialDollarsSpike => "denial_dollars_spike",
            Self::Slowdown => "slowdown",
            Self::Trend => "trend",
        }
    }
}

from_stored_name!(FindingKind, "finding kind");

/// What a finding's numbers measure, so every page, export and message reads them alike:
/// a per-day count is not a percentage, and dollars are not points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueUnit {
    /// A proportion 0–1 (denial rate, a reason's share of the payer's denials).
    Share,
    /// Days to decision.
    Days,
    /// Denials per day of the window (sound `volume_spike`).
    DenialsPerDay,
    /// Denials in the window (compat's counts).
    Denials,
    /// Allowed dollars of denied claims.
    Dollars,
}

impl ValueUnit {
    /// A baseline or current value: `11.3 %`, `12.0 days`, `3.2 denials a day`,
    /// `1,204 denials`, `$12,346`.
    pub fn value(self, v: f64) -> String {
        use crate::domain::format::{decimal, dollars, percent};
        match self {
            Self::Share => percent(v),
            Self::Days => crate::domain::format::days(v, false),
            Self::DenialsPerDay => format!("{} denials a day", decimal(v, 1)),
            Self::Denials => count_of_denials(decimal(v, 0)),
            Self::Dollars => dollars(v),
        }
    }

    /// A change, signed: `+34.0 points`, `+12.0 days`, `+9.3 denials a day`,
    /// `+1,100 denials`, `+$12,000`.
    pub fn change(self, d: f64) -> String {
        use crate::domain::format::{decimal, dollars, points};
        if !d.is_finite() {
            return "–".into();
        }
        let sign = if d < 0.0 { "−" } else { "+" };
        match self {
            Self::Share => points(d),
            Self::Days => crate::domain::format::days(d, true),
            Self::DenialsPerDay => format!("{sign}{} denials a day", decimal(d.abs(), 1)),
            Self::Denials => format!("{sign}{}", count_of_denials(decimal(d.abs(), 0))),
            Self::Dollars => format!("{sign}{}", dollars(d.abs())),
        }
    }

    /// What an export multiplies the stored value by: shares are exported as percentages.
    pub fn export_scale(self) -> f64 {
        if self == Self::Share { 100.0 } else { 1.0 }
    }

    /// The unit of a stored kind; a kind the code no longer knows reads as a share (the
    /// products' main measure).
    pub fn of_stored_kind(kind: &str) -> ValueUnit {
        kind.parse::<FindingKind>()
            .map_or(ValueUnit::Share, FindingKind::unit)
    }
}

fn count_of_denials(n: String) -> String {
    if n == "1" {
        "1 denial".into()
    } else {
        format!("{n} denials")
    }
}

/// `Worse` = more denials, more days, more volume or dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Worse,
    Better,
}

impl Direction {
    pub const ALL: [Direction; 2] = [Self::Worse, Self::Better];

    /// The stored name, which is also how pages show it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Worse => "worse",
            Self::Better => "better",
        }
    }

    pub fn label(self) -> &'static str {
        self.as_str()
    }

    pub fn of_delta(delta: f64) -> Self {
        if delta > 0.0 {
            Self::Worse
        } else {
            Self::Better
        }
    }
}

from_stored_name!(Direction, "direction");

/// Which old dollars rule fired (compat can fire both for one key; PayerWatch stores one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DollarRule {
    AboveThreshold,
    RelativeIncrease,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrendRule {
    ConsecutiveIncreases,
    TotalRise,
}

/// Kind-specific numbers shown on the event page (stored as JSON with a `type` tag).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Evidence {
    /// Denial rates, reason shares, old per-key rates.
    Rate {
        method: Option<TestMethod>,
        z: Option<f64>,
        baseline_interval: Option<Interval>,
        current_interval: Option<Interval>,
        /// Δ / baseline rate (the old relative rule's quantity).
        relative_change: Option<f64>,
    },
    DecisionTime {
        baseline_median: f64,
        current_median: f64,
        hodges_lehmann_shift: Option<f64>,
        u_statistic: Option<f64>,
        z: Option<f64>,
        /// Δ / baseline median (the old relative rule's quantity).
        relative_change: Option<f64>,
    },
    NewReason {
        recent_denials: u64,
    },
    Volume {
        baseline_denials: u64,
        recent_denials: u64,
        /// Sound: recent per-day rate ÷ baseline per-day rate.
        rate_ratio: Option<f64>,
        /// Compat: (recent − baseline) / baseline of the raw window sums, as the old rule did.
        relative_change: Option<f64>,
    },
    Dollars {
        baseline_cents: i64,
        recent_cents: i64,
        threshold_cents: i64,
        /// recent ÷ threshold.
        threshold_ratio: f64,
        /// (recent − baseline) / baseline, compat only.
        relative_change: Option<f64>,
        rules: Vec<DollarRule>,
    },
    Slowdown {
        hodges_lehmann_shift: Option<f64>,
        u_statistic: Option<f64>,
        z: Option<f64>,
        percent_change: Option<f64>,
        dollars_at_risk: Option<f64>,
        completeness: Option<f64>,
        /// Sound: the fitted 28-day rise of the payer's trend test when it fired too (the
        /// trend then attaches here instead of being a finding of its own).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        trend_rise_days: Option<f64>,
    },
    /// A payer-level finding (scope `*`): the per-group findings it stands for.
    PayerLevel {
        members: Vec<super::grouping::MemberSummary>,
    },
    /// Sound trend: Mann–Kendall on daily median decision days, Theil–Sen slope.
    TrendTest {
        slope_days_per_day: f64,
        fitted_rise: f64,
        mann_kendall_s: f64,
        z: f64,
        days_with_data: u64,
        daily_medians: Vec<f64>,
    },
    Trend {
        weekly_values: Vec<f64>,
        weekly_counts: Vec<u64>,
        rise: f64,
        rules: Vec<TrendRule>,
    },
}

/// One group's result. Sound mode returns every tested group (with `significant` set by q
/// and the effect floor) so pages can show all of them; compat returns only fired rules.
/// `group` is the key's second part: CPT group (DriftWatch), reason (DenialScope), empty
/// for DelayGuard (per payer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub product: Product,
    pub mode: Mode,
    pub kind: FindingKind,
    pub payer: String,
    pub group: String,
    pub direction: Direction,
    pub baseline_value: f64,
    pub current_value: f64,
    pub delta: f64,
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
    pub p_value: Option<f64>,
    pub q_value: Option<f64>,
    pub score: f64,
    pub severity_label: SeverityLabel,
    pub baseline_n: u64,
    pub current_n: u64,
    /// Sound: 1 − q for tested signals, `None` for rule-based ones; compat: the old formula.
    pub confidence: Option<f64>,
    pub significant: bool,
    /// Sound: money at stake per 30 days (ANALYTICS.md "Money per finding"); `None` when
    /// the claims carry no amounts, and in compat mode.
    pub dollars_per_month: Option<f64>,
    /// A payer-level finding (group `*`): the groups (CPT groups, reasons) whose own
    /// findings it stands for. Empty otherwise.
    pub group_members: Vec<String>,
    pub evidence: Evidence,
}

/// A group that was considered but had too little data to be judged — listed, not dropped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsufficientGroup {
    pub payer: String,
    pub group: String,
    pub baseline_n: u64,
    pub current_n: u64,
    pub reason: String,
}

impl InsufficientGroup {
    /// Splits `items` by volume, the same way for every product that needs both windows
    /// filled: those with at least `min` (and at least one) in each window go on to be
    /// judged; the others are listed with what they had ("12 baseline and 3 current claims;
    /// at least 10 needed in each window"). `counted` names the unit; `of` gives an item's
    /// payer, group and its baseline and current counts.
    pub(crate) fn split_by_volume<'a, T>(
        items: &'a [T],
        min: u64,
        counted: &str,
        of: impl Fn(&T) -> (&str, &str, u64, u64),
    ) -> (Vec<&'a T>, Vec<InsufficientGroup>) {
        let mut sufficient = Vec::new();
        let mut insufficient = Vec::new();
        for item in items {
            let (payer, group, n_b, n_c) = of(item);
            if n_b >= min.max(1) && n_c >= min.max(1) {
                sufficient.push(item);
            } else {
                insufficient.push(InsufficientGroup {
                    payer: payer.to_string(),
                    group: group.to_string(),
                    baseline_n: n_b,
                    current_n: n_c,
                    reason: format!(
                        "{n_b} baseline and {n_c} current {counted}; at least {min} needed in each window"
                    ),
                });
            }
        }
        (sufficient, insufficient)
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct RunOutcome {
    pub groups_considered: usize,
    pub insufficient: Vec<InsufficientGroup>,
    pub findings: Vec<Finding>,
}

impl RunOutcome {
    /// The findings that become events.
    pub fn events(&self) -> impl Iterator<Item = &Finding> {
        self.findings.iter().filter(|f| f.significant)
    }
}

/// Applies BH over one family — in sound mode every test of one product run, all kinds
/// together: sets `q_value` and `confidence` (1 − q), and `significant` when
/// `q ≤ fdr_level` and `passes_floor` holds.
pub(crate) fn apply_fdr(
    family: &mut [Finding],
    fdr_level: f64,
    passes_floor: impl Fn(&Finding) -> bool,
) {
    let p: Vec<f64> = family.iter().map(|f| f.p_value.unwrap_or(1.0)).collect();
    for (finding, q) in family.iter_mut().zip(benjamini_hochberg(&p)) {
        finding.q_value = Some(q);
        finding.confidence = Some(1.0 - q);
        finding.significant = q <= fdr_level && passes_floor(finding);
    }
}

#[cfg(test)]
mod name_tests {
    use super::*;

    #[test]
    fn each_kind_reads_in_its_own_unit() {
        use FindingKind as K;
        // A volume spike's values are denials a day, not a percentage; dollars are dollars.
        assert_eq!(K::VolumeSpike.unit().value(3.25), "3.2 denials a day");
        assert_eq!(K::VolumeSpike.unit().change(9.31), "+9.3 denials a day");
        assert_eq!(K::DollarsSpike.unit().value(12_345.6), "$12,346");
        assert_eq!(K::DenialDollarsSpike.unit().change(-830.0), "−$830");
        assert_eq!(K::DenialVolumeSpike.unit().value(1204.0), "1,204 denials");
        assert_eq!(K::NewDenialReason.unit().change(1.0), "+1 denial");
        assert_eq!(K::DenialRate.unit().value(0.1134), "11.3 %");
        assert_eq!(K::ReasonShareSpike.unit().change(0.34), "+34.0 points");
        assert_eq!(K::Slowdown.unit().change(-2.0), "−2.0 days");
        // Only shares are scaled to percentages in exports.
        for k in FindingKind::ALL {
            let share = k.unit() == ValueUnit::Share;
            assert_eq!(k.unit().export_scale() == 100.0, share, "{k:?}");
        }
        assert_eq!(ValueUnit::of_stored_kind("retired_kind"), ValueUnit::Share);
        assert_eq!(ValueUnit::of_stored_kind("trend"), ValueUnit::Days);
    }

    #[test]
    fn every_name_parses_back_to_its_variant() {
        for p in Product::ALL {
            assert_eq!(p.as_str().parse::<Product>(), Ok(p));
            assert_eq!(p.label().parse::<Product>(), Ok(p));
            assert!(p.kinds().iter().all(|k| FindingKind::ALL.contains(k)));
        }
        for k in FindingKind::ALL {
            assert_eq!(k.as_str().parse::<FindingKind>(), Ok(k));
            // Each kind belongs to exactly one product's page.
            let owners = Product::ALL
                .iter()
                .filter(|p| p.kinds().contains(&k))
                .count();
            assert_eq!(owners, 1, "{k:?}");
        }
        for d in [Direction::Worse, Direction::Better] {
            assert_eq!(d.as_str().parse::<Direction>(), Ok(d));
        }
        for m in [Mode::Sound, Mode::Compat] {
            assert_eq!(m.as_str().parse::<Mode>(), Ok(m));
        }
        assert_eq!("denials".parse::<Product>(), Ok(Product::DenialScope));
        assert!("drop table".parse::<FindingKind>().is_err());
        assert!("up".parse::<Direction>().is_err());
    }

    #[test]
    fn stored_names_match_the_serde_names() {
        for k in FindingKind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        for p in Product::ALL {
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }
}
