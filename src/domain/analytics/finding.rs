//! The output vocabulary shared by all products: `Finding` (one tested or fired group with
//! its evidence, stored as JSON), `RunOutcome` (one run's findings and its insufficient
//! groups), and the BH step that turns a family of p-values into q-values and significance.

use serde::{Deserialize, Serialize};

use crate::domain::stats::{Interval, SeverityLabel, TestMethod, benjamini_hochberg};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Product {
    DriftWatch,
    DenialScope,
    DelayGuard,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    #[default]
    Sound,
    Compat,
}

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

/// `Worse` = more denials, more days, more volume or dollars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Worse,
    Better,
}

impl Direction {
    pub fn of_delta(delta: f64) -> Self {
        if delta > 0.0 {
            Self::Worse
        } else {
            Self::Better
        }
    }
}

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

/// Applies BH over one family (one metric of one run): sets `q_value` and `confidence`
/// (1 − q), and `significant` when `q ≤ fdr_level` and `passes_floor` holds.
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
