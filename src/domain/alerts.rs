//! Alert rules and the send-or-suppress decision (ANALYTICS.md § Alerts).
//!
//! A rule matches a finding by scope (payer, CPT group, product, kind, direction) and a
//! metric comparison; a metric that does not apply to the finding's kind falls back to
//! severity. Cooldown and noise suppression work on the key (product, kind, payer,
//! cpt_group) — the CPT group is part of it, so one group cannot silence another — and a
//! suppressed alert does not restart the cooldown.

use chrono::{Duration, NaiveDateTime};
use serde::{Deserialize, Serialize};

use crate::domain::analytics::{Direction, FindingKind, Product, ValueUnit};
use crate::domain::names::{UnknownName, from_stored_name};
use crate::domain::stats::SeverityLabel;

/// The product name of data-quality alerts (uploads scoring under the rule's threshold).
pub const DATA_QUALITY: &str = "data_quality";
/// The kind of data-quality alerts.
pub const QUALITY_KIND: &str = "quality_score";

/// The stored name of what raises an alert, read from a filter or a rule: a product by any
/// name `Product` reads (stored canonically, so a rule typed as "drift" matches findings),
/// or `data_quality`. The alert list, the API's filter and rules all read it so.
pub fn alert_source(s: &str) -> Result<&'static str, UnknownName> {
    match s.trim() {
        DATA_QUALITY => Ok(DATA_QUALITY),
        other => other.parse::<Product>().map(Product::as_str),
    }
}

/// What raised an alert, as people read it: a product's name, or "Data quality".
pub fn source_label(product: &str) -> &'static str {
    match product.parse::<Product>() {
        Ok(p) if p.as_str() == product => p.label(),
        _ if product == DATA_QUALITY => "Data quality",
        _ => "Analytics",
    }
}

/// Where an alert stands (its current status; history keeps every change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Resolved,
    /// Raised but not sent: cooldown or noise suppression.
    Suppressed,
}

impl AlertStatus {
    pub const ALL: [AlertStatus; 4] = [
        Self::Open,
        Self::Acknowledged,
        Self::Resolved,
        Self::Suppressed,
    ];
    /// The stored names, in [`ALL`](Self::ALL)'s order (list filters offer them).
    pub const NAMES: [&'static str; 4] = [
        Self::Open.as_str(),
        Self::Acknowledged.as_str(),
        Self::Resolved.as_str(),
        Self::Suppressed.as_str(),
    ];
    /// Someone still has to act on these (scorecards, digests).
    pub const UNRESOLVED_NAMES: [&'static str; 2] =
        [Self::Open.as_str(), Self::Acknowledged.as_str()];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Acknowledged => "acknowledged",
            Self::Resolved => "resolved",
            Self::Suppressed => "suppressed",
        }
    }

    /// The statuses it may move to by hand. There is no way back to "open" from
    /// "acknowledged" (acknowledging is a promise to look), but a resolved alert may be
    /// reopened: "noise" resolves it, and an analyst may disagree (SPEC §10).
    pub fn next(self) -> &'static [AlertStatus] {
        match self {
            Self::Open => &[Self::Acknowledged, Self::Resolved],
            Self::Acknowledged | Self::Suppressed => &[Self::Resolved],
            Self::Resolved => &[Self::Open],
        }
    }
}

from_stored_name!(AlertStatus, "alert status");

/// The stored names of the statuses an alert may move to from stored status `current`
/// (none from a status the code does not know).
pub fn next_statuses(current: &str) -> Vec<&'static str> {
    current.parse::<AlertStatus>().map_or_else(
        |_| Vec::new(),
        |s| s.next().iter().map(|n| n.as_str()).collect(),
    )
}

/// An operator's judgment of an alert. There is no default: a verdict nobody chose is
/// worse than none (issue 19), so forms preset nothing and a missing one is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Real,
    Noise,
    NeedsFollowUp,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Real, Verdict::Noise, Verdict::NeedsFollowUp];

    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == s)
    }

    /// The stored name (and form value).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Real => "real",
            Verdict::Noise => "noise",
            Verdict::NeedsFollowUp => "needs_follow_up",
        }
    }

    /// As people read it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Real => "Real problem",
            Verdict::Noise => "Noise",
            Verdict::NeedsFollowUp => "Needs follow-up",
        }
    }

    /// The label of a stored name (unknown names shown as stored).
    pub fn label_of(stored: &str) -> String {
        Verdict::parse(stored).map_or_else(|| stored.replace('_', " "), |v| v.label().to_string())
    }

    /// "Noise" closes the alert: nobody needs to act on it (an analyst may reopen it).
    pub fn resolves(self) -> bool {
        self == Verdict::Noise
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    Severity,
    RateDelta,
    DaysDelta,
    /// An upload's quality score (data-quality rules only).
    QualityScore,
}

from_stored_name!(Metric, "metric");

impl Metric {
    pub const ALL: [Metric; 4] = [
        Metric::Severity,
        Metric::RateDelta,
        Metric::DaysDelta,
        Metric::QualityScore,
    ];

    /// The metric stored or posted as `s` (its `as_str`).
    pub fn parse(s: &str) -> Option<Metric> {
        s.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::Severity => "severity",
            Metric::RateDelta => "rate_delta",
            Metric::DaysDelta => "days_delta",
            Metric::QualityScore => "quality_score",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Comparison {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

from_stored_name!(Comparison, "comparison");

impl Comparison {
    pub const ALL: [Comparison; 5] = [
        Comparison::Gt,
        Comparison::Gte,
        Comparison::Lt,
        Comparison::Lte,
        Comparison::Eq,
    ];

    /// The comparison stored or posted as `s` (its `as_str`).
    pub fn parse(s: &str) -> Option<Comparison> {
        s.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Comparison::Gt => "gt",
            Comparison::Gte => "gte",
            Comparison::Lt => "lt",
            Comparison::Lte => "lte",
            Comparison::Eq => "eq",
        }
    }

    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Comparison::Gt => value > threshold,
            Comparison::Gte => value >= threshold,
            Comparison::Lt => value < threshold,
            Comparison::Lte => value <= threshold,
            Comparison::Eq => value == threshold,
        }
    }
}

/// What a rule looks at. `None` scope fields match anything.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleSpec {
    pub payer: Option<String>,
    pub cpt_group: Option<String>,
    pub product: Option<String>,
    pub kind: Option<String>,
    /// `worse` / `better`; default rules alert only on `worse`.
    pub direction: Option<String>,
    pub metric: Metric,
    pub comparison: Comparison,
    pub threshold: f64,
    pub enabled: bool,
    /// Sound-mode conditions in words; when `min_severity` is set the rule is judged by them
    /// and metric/comparison/threshold are ignored.
    pub conditions: Conditions,
}

/// A sound-mode rule's conditions (ANALYTICS.md "Alerts"): the finding's label is at least
/// `min_severity`, and each given money / size condition holds. A size condition that does
/// not apply to the finding's kind (days on a denial-rate finding) does not match.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Conditions {
    pub min_severity: Option<SeverityLabel>,
    /// Dollars at stake per month (absolute: money saved counts for "better" rules).
    pub min_dollars_per_month: Option<f64>,
    /// Rise of a rate in percentage points (5 = "up at least 5 points").
    pub min_rate_delta_points: Option<f64>,
    /// Rise in days.
    pub min_days_delta: Option<f64>,
}

impl Conditions {
    fn holds(&self, facts: &FindingFacts<'_>) -> bool {
        let Some(min) = self.min_severity else {
            return false;
        };
        let label_ok = facts
            .severity_label
            .parse::<SeverityLabel>()
            .is_ok_and(|l| l >= min);
        let money_ok = self.min_dollars_per_month.is_none_or(|want| {
            facts
                .dollars_per_month
                .is_some_and(|have| have.abs() >= want)
        });
        let rate_ok = self.min_rate_delta_points.is_none_or(|want| {
            unit_is(facts.kind, ValueUnit::Share) && facts.delta.abs() * 100.0 >= want - 1e-9
        });
        let days_ok = self.min_days_delta.is_none_or(|want| {
            unit_is(facts.kind, ValueUnit::Days) && facts.delta.abs() >= want - 1e-9
        });
        label_ok && money_ok && rate_ok && days_ok
    }

    /// The conditions in words: "severity at least high, at least $5,000 a month, denial
    /// rate up at least 5 points".
    pub fn describe(&self) -> Option<String> {
        let min = self.min_severity?;
        let mut parts = vec![format!("severity at least {}", min.as_str())];
        if let Some(d) = self.min_dollars_per_month {
            parts.push(format!(
                "at least {} a month",
                crate::domain::format::dollars(d)
            ));
        }
        if let Some(p) = self.min_rate_delta_points {
            parts.push(format!(
                "rate changed at least {} points",
                crate::domain::format::decimal(p, 1)
            ));
        }
        if let Some(d) = self.min_days_delta {
            parts.push(format!(
                "decision time changed at least {} days",
                crate::domain::format::decimal(d, 1)
            ));
        }
        Some(parts.join(", "))
    }
}

impl Default for RuleSpec {
    /// The documented default: any finding getting worse with severity ≥ 0.7.
    fn default() -> Self {
        RuleSpec {
            payer: None,
            cpt_group: None,
            product: None,
            kind: None,
            direction: Some(Direction::Worse.as_str().into()),
            metric: Metric::Severity,
            comparison: Comparison::Gte,
            threshold: 0.7,
            enabled: true,
            conditions: Conditions::default(),
        }
    }
}

/// The facts of a finding a rule is evaluated on.
#[derive(Debug, Clone, PartialEq)]
pub struct FindingFacts<'a> {
    pub product: &'a str,
    pub kind: &'a str,
    pub payer: &'a str,
    pub cpt_group: &'a str,
    pub direction: &'a str,
    pub severity: f64,
    pub delta: f64,
    /// Sound findings: the label and money the rule conditions read.
    pub severity_label: &'a str,
    pub dollars_per_month: Option<f64>,
}

/// Whether a stored kind's delta is in `unit` (a kind the code does not know is in none:
/// a rate or days condition does not apply to it).
fn unit_is(kind: &str, unit: ValueUnit) -> bool {
    kind.parse::<FindingKind>().is_ok_and(|k| k.unit() == unit)
}

/// The value the rule's metric reads from the finding (severity when it does not apply).
pub fn metric_value(metric: Metric, facts: &FindingFacts<'_>) -> f64 {
    match metric {
        Metric::RateDelta if unit_is(facts.kind, ValueUnit::Share) => facts.delta,
        Metric::DaysDelta if unit_is(facts.kind, ValueUnit::Days) => facts.delta,
        _ => facts.severity,
    }
}

fn scope_matches(want: &Option<String>, have: &str) -> bool {
    want.as_deref()
        .is_none_or(|w| w.is_empty() || w.eq_ignore_ascii_case(have))
}

pub fn rule_matches(rule: &RuleSpec, facts: &FindingFacts<'_>) -> bool {
    rule.enabled
        && scope_matches(&rule.payer, facts.payer)
        && scope_matches(&rule.cpt_group, facts.cpt_group)
        && scope_matches(&rule.product, facts.product)
        && scope_matches(&rule.kind, facts.kind)
        && scope_matches(&rule.direction, facts.direction)
        && if rule.conditions.min_severity.is_some() {
            rule.conditions.holds(facts)
        } else {
            rule.comparison
                .holds(metric_value(rule.metric, facts), rule.threshold)
        }
}

/// Why an alert was stored but not sent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Suppression {
    /// An alert with the same key was sent less than the cooldown ago.
    Cooldown {
        last_sent_at: NaiveDateTime,
        until: NaiveDateTime,
    },
    /// Operators judged enough alerts of this key as noise recently.
    Noise {
        noise_judgments: u32,
        within_days: i64,
    },
}

impl Suppression {
    pub fn explain(&self) -> String {
        match self {
            Suppression::Cooldown {
                last_sent_at,
                until,
            } => format!(
                "An alert for the same payer, group and kind was sent at {} UTC; alerts of this kind are held back until {} UTC.",
                last_sent_at.format("%Y-%m-%d %H:%M"),
                until.format("%Y-%m-%d %H:%M")
            ),
            Suppression::Noise {
                noise_judgments,
                within_days,
            } => format!(
                "{noise_judgments} earlier alerts for the same payer, group and kind were judged noise in the last {within_days} days."
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Send,
    Suppress(Suppression),
}

pub const NOISE_WINDOW_DAYS: i64 = 30;
pub const NOISE_THRESHOLD: u32 = 2;

/// Send or suppress. `last_sent_at` is the newest *sent* alert of the same key
/// (suppressed ones never count); `noise_judgments` counts distinct alerts of the key
/// judged noise within the last 30 days.
pub fn decide(
    now: NaiveDateTime,
    last_sent_at: Option<NaiveDateTime>,
    cooldown: Duration,
    noise_judgments: u32,
) -> Decision {
    if noise_judgments >= NOISE_THRESHOLD {
        return Decision::Suppress(Suppression::Noise {
            noise_judgments,
            within_days: NOISE_WINDOW_DAYS,
        });
    }
    if let Some(last) = last_sent_at {
        let until = last + cooldown;
        if now < until {
            return Decision::Suppress(Suppression::Cooldown {
                last_sent_at: last,
                until,
            });
        }
    }
    Decision::Send
}

#[cfg(test)]
mod tests {

    #[test]
    fn alert_sources_are_stored_by_their_canonical_names() {
        assert_eq!(alert_source(" data_quality "), Ok(DATA_QUALITY));
        assert_eq!(alert_source("drift"), Ok("drift_watch"));
        assert_eq!(alert_source("denial_scope"), Ok("denial_scope"));
        assert!(alert_source("Data quality").is_err());
        assert!(alert_source("").is_err());
    }

    use super::*;

    #[test]
    fn alert_statuses_read_back_and_move_only_where_allowed() {
        for (status, name) in AlertStatus::ALL.iter().zip(AlertStatus::NAMES) {
            assert_eq!(name.parse::<AlertStatus>(), Ok(*status));
        }
        assert!("closed".parse::<AlertStatus>().is_err());
        assert_eq!(next_statuses("open"), ["acknowledged", "resolved"]);
        assert_eq!(next_statuses("suppressed"), ["resolved"]);
        assert_eq!(next_statuses("resolved"), ["open"]);
        assert!(next_statuses("closed").is_empty());
        assert_eq!(AlertStatus::UNRESOLVED_NAMES, ["open", "acknowledged"]);
    }

    fn facts(kind: &str, severity: f64, delta: f64) -> FindingFacts<'_> {
        FindingFacts {
            product: "drift_watch",
            kind,
            payer: "A",
            cpt_group: "EVAL_MGMT",
            direction: if delta > 0.0 { "worse" } else { "better" },
            severity,
            delta,
            severity_label: SeverityLabel::from_score(severity).as_str(),
            dollars_per_month: None,
        }
    }

    fn any_direction(rule: RuleSpec) -> RuleSpec {
        RuleSpec {
            direction: None,
            ..rule
        }
    }

    #[test]
    fn a1_severity_rule_fires_on_v1() {
        let v1 = facts("denial_rate", 0.7999999999999999, 0.39999999999999997);
        assert!(rule_matches(&RuleSpec::default(), &v1));
    }

    #[test]
    fn a2_severity_rule_does_not_fire_on_v6() {
        let v6 = facts("denial_rate", 0.39999999999999997, -0.19999999999999998);
        assert!(!rule_matches(&any_direction(RuleSpec::default()), &v6));
    }

    #[test]
    fn a3_rate_delta_rule_does_not_fire_on_a_negative_delta() {
        let rule = any_direction(RuleSpec {
            metric: Metric::RateDelta,
            threshold: 0.05,
            ..RuleSpec::default()
        });
        let v6 = facts("denial_rate", 0.39999999999999997, -0.19999999999999998);
        assert!(!rule_matches(&rule, &v6));
    }

    #[test]
    fn a4_rate_delta_rule_falls_back_to_severity_on_decision_time() {
        let rule = any_direction(RuleSpec {
            metric: Metric::RateDelta,
            threshold: 0.05,
            ..RuleSpec::default()
        });
        let v7 = facts("decision_time", 0.4, 4.0);
        assert_eq!(metric_value(Metric::RateDelta, &v7), 0.4);
        assert!(rule_matches(&rule, &v7));
    }

    fn at(h: i64, m: i64) -> NaiveDateTime {
        chrono::NaiveDate::from_ymd_opt(2026, 11, 23)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|t| t + Duration::hours(h) + Duration::minutes(m))
            .expect("time")
    }

    #[test]
    fn a5_a6_cooldown_of_four_hours() {
        let sent = at(0, 0);
        assert!(matches!(
            decide(at(3, 59), Some(sent), Duration::hours(4), 0),
            Decision::Suppress(Suppression::Cooldown { .. })
        ));
        assert_eq!(
            decide(at(4, 1), Some(sent), Duration::hours(4), 0),
            Decision::Send
        );
        assert_eq!(
            decide(at(0, 1), None, Duration::hours(4), 0),
            Decision::Send
        );
    }

    #[test]
    fn a7_a8_noise_suppression_needs_two_judgments() {
        assert!(matches!(
            decide(at(10, 0), None, Duration::hours(4), 2),
            Decision::Suppress(Suppression::Noise { .. })
        ));
        assert_eq!(
            decide(at(10, 0), None, Duration::hours(4), 1),
            Decision::Send
        );
    }

    #[test]
    fn scope_and_direction_filter() {
        let rule = RuleSpec {
            payer: Some("cigna".into()),
            cpt_group: Some("IMAGING".into()),
            ..RuleSpec::default()
        };
        let mut f = facts("denial_rate", 0.9, 0.3);
        assert!(!rule_matches(&rule, &f), "other payer");
        f.payer = "Cigna";
        assert!(!rule_matches(&rule, &f), "other group");
        f.cpt_group = "IMAGING";
        assert!(rule_matches(&rule, &f));
        f.direction = "better";
        assert!(
            !rule_matches(&rule, &f),
            "default rules alert only on worse"
        );
        let disabled = RuleSpec {
            enabled: false,
            ..RuleSpec::default()
        };
        assert!(!rule_matches(&disabled, &facts("denial_rate", 1.0, 0.5)));
    }

    #[test]
    fn explanations_name_the_reason() {
        let s = Suppression::Noise {
            noise_judgments: 2,
            within_days: 30,
        };
        assert!(s.explain().contains("judged noise"));
        let c = Suppression::Cooldown {
            last_sent_at: at(0, 0),
            until: at(4, 0),
        };
        assert!(c.explain().contains("held back until 2026-11-23 04:00"));
    }

    #[test]
    fn rules_in_words_need_every_condition() {
        let rule = RuleSpec {
            conditions: Conditions {
                min_severity: Some(SeverityLabel::High),
                min_dollars_per_month: Some(5_000.0),
                min_rate_delta_points: Some(5.0),
                min_days_delta: None,
            },
            ..RuleSpec::default()
        };
        assert_eq!(
            rule.conditions.describe().as_deref(),
            Some(
                "severity at least high, at least $5,000 a month, rate changed at least 5.0 points"
            )
        );
        let cigna = FindingFacts {
            severity_label: "critical",
            dollars_per_month: Some(34_225.0),
            ..facts("denial_rate", 0.2, 0.34)
        };
        assert!(rule_matches(&rule, &cigna));
        // Too little money, too small a change, too low a label, a kind without a rate.
        let poor = FindingFacts {
            dollars_per_month: Some(4_999.0),
            ..cigna.clone()
        };
        assert!(!rule_matches(&rule, &poor));
        let small = FindingFacts {
            delta: 0.031,
            ..cigna.clone()
        };
        assert!(!rule_matches(&rule, &small));
        let medium = FindingFacts {
            severity_label: "medium",
            ..cigna.clone()
        };
        assert!(!rule_matches(&rule, &medium));
        let days = FindingFacts {
            kind: "slowdown",
            ..cigna.clone()
        };
        assert!(!rule_matches(&rule, &days));
        // Unknown money never meets a money condition.
        let unknown = FindingFacts {
            dollars_per_month: None,
            ..cigna
        };
        assert!(!rule_matches(&rule, &unknown));
    }
}
