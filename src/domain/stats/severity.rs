//! The one severity mapping used by every product: score → label, and for rules that decide
//! a label first (tiers, old-system ladders) a representative score for that label.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityLabel {
    Low,
    Medium,
    High,
    Critical,
}

impl SeverityLabel {
    /// score ≥ 0.9 critical, ≥ 0.7 high, ≥ 0.4 medium, else low (NaN is low).
    pub fn from_score(score: f64) -> Self {
        if score >= 0.9 {
            Self::Critical
        } else if score >= 0.7 {
            Self::High
        } else if score >= 0.4 {
            Self::Medium
        } else {
            Self::Low
        }
    }

    /// A score inside the label's band, for rules that produce a label rather than a number,
    /// so alert thresholds on `severity` treat them consistently: `from_score` of it gives the
    /// label back.
    pub fn representative_score(self) -> f64 {
        match self {
            Self::Low => 0.25,
            Self::Medium => 0.5,
            Self::High => 0.75,
            Self::Critical => 1.0,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SeverityLabel::*;
    use super::*;

    #[test]
    fn thresholds_are_inclusive() {
        assert_eq!(SeverityLabel::from_score(0.9), Critical);
        assert_eq!(SeverityLabel::from_score(0.8999), High);
        assert_eq!(SeverityLabel::from_score(0.7), High);
        assert_eq!(SeverityLabel::from_score(0.4), Medium);
        assert_eq!(SeverityLabel::from_score(0.39999999999999997), Low);
        assert_eq!(SeverityLabel::from_score(f64::NAN), Low);
    }

    #[test]
    fn representative_scores_map_back_to_their_label() {
        for label in [Low, Medium, High, Critical] {
            assert_eq!(
                SeverityLabel::from_score(label.representative_score()),
                label
            );
        }
    }
}
