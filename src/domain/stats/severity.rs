//! The one severity mapping used by every product: score → label, and for rules that decide
//! a label first (tiers, old-system ladders) a representative score for that label.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::domain::names::UnknownName;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeverityLabel {
    Low,
    Medium,
    High,
    Critical,
}

impl SeverityLabel {
    pub const ALL: [SeverityLabel; 4] = [Self::Low, Self::Medium, Self::High, Self::Critical];

    /// The tier of a value against ascending medium / high / critical floors (inclusive), for
    /// rules that grade a measured size (days, ratios) rather than a score.
    pub fn tier(value: f64, [medium, high, critical]: [f64; 3]) -> Self {
        if value >= critical {
            Self::Critical
        } else if value >= high {
            Self::High
        } else if value >= medium {
            Self::Medium
        } else {
            Self::Low
        }
    }

    /// The lowest score that carries this label (the inverse of `from_score`'s bands).
    pub fn floor(self) -> f64 {
        match self {
            Self::Low => 0.0,
            Self::Medium => 0.4,
            Self::High => 0.7,
            Self::Critical => 0.9,
        }
    }

    /// The label as pages show it ("High").
    pub fn label(self) -> &'static str {
        match self {
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::Critical => "Critical",
        }
    }

    /// score ≥ 0.9 critical, ≥ 0.7 high, ≥ 0.4 medium, else low (NaN is low).
    pub fn from_score(score: f64) -> Self {
        Self::tier(
            score,
            [
                Self::Medium.floor(),
                Self::High.floor(),
                Self::Critical.floor(),
            ],
        )
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

/// Accepts the stored name in any case (`high`, `High`).
impl FromStr for SeverityLabel {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == wanted)
            .ok_or_else(|| UnknownName::new("severity", s))
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
    fn floors_are_the_bands_lower_bounds() {
        for label in SeverityLabel::ALL {
            assert_eq!(SeverityLabel::from_score(label.floor()), label);
            assert_eq!(label.as_str().parse::<SeverityLabel>(), Ok(label));
        }
        assert!("huge".parse::<SeverityLabel>().is_err());
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
