//! Which series a finding's chart plots (issue 17 item 6): the metric the card is about, so
//! a reader sees the change the card states — a reason finding plots that reason's share of
//! the payer's denials, not the payer's denial rate; a delay finding plots days to decision.

use super::{FindingKind, Mode, Product};

/// The measure a chart plots, week by week.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Denied ÷ decided claims of the payer (× CPT groups).
    DenialRate,
    /// Median days from submission to decision (what sound delays and DriftWatch compare).
    MedianDays,
    /// Mean days from submission to decision (legacy DelayGuard rules compare means).
    MeanDays,
    /// The reason's denials ÷ the payer's denials.
    ReasonShare,
    /// The reason's denials per day.
    ReasonPerDay,
    /// Allowed dollars of the reason's denied claims, per week.
    ReasonDollars,
}

impl Metric {
    /// Which metric the card of a stored finding is about. A kind the code no longer knows
    /// (an old row) falls back to the product's main measure.
    pub fn for_finding(product: Product, kind: Option<FindingKind>, mode: Mode) -> Metric {
        use FindingKind as K;
        match kind {
            Some(K::DenialRate) => Metric::DenialRate,
            Some(K::DecisionTime) => Metric::MedianDays,
            Some(K::Slowdown | K::Trend) if mode == Mode::Compat => Metric::MeanDays,
            Some(K::Slowdown | K::Trend) => Metric::MedianDays,
            Some(K::NewReason | K::ReasonShareSpike | K::NewDenialReason | K::DenialRateSpike) => {
                Metric::ReasonShare
            }
            Some(K::VolumeSpike | K::DenialVolumeSpike) => Metric::ReasonPerDay,
            Some(K::DollarsSpike | K::DenialDollarsSpike) => Metric::ReasonDollars,
            None => match product {
                Product::DriftWatch => Metric::DenialRate,
                Product::DenialScope => Metric::ReasonShare,
                Product::DelayGuard => Metric::MedianDays,
            },
        }
    }

    /// Whether the value is a share (plotted as %).
    pub fn is_share(self) -> bool {
        matches!(self, Metric::DenialRate | Metric::ReasonShare)
    }

    /// Whether the value is days to decision.
    pub fn is_days(self) -> bool {
        matches!(self, Metric::MedianDays | Metric::MeanDays)
    }

    /// Whether the series is about one denial reason (DenialScope keys).
    pub fn is_reason(self) -> bool {
        matches!(
            self,
            Metric::ReasonShare | Metric::ReasonPerDay | Metric::ReasonDollars
        )
    }

    /// The y axis label and the words of the chart's title.
    pub fn label(self) -> &'static str {
        match self {
            Metric::DenialRate => "denial rate",
            Metric::MedianDays => "median days to decision",
            Metric::MeanDays => "mean days to decision",
            Metric::ReasonShare => "share of the payer's denials",
            Metric::ReasonPerDay => "denials a day",
            Metric::ReasonDollars => "denied dollars",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_card_plots_the_metric_it_is_about() {
        let sound = Mode::Sound;
        // A reason finding plots that reason's share, never the payer's denial rate.
        for kind in [FindingKind::ReasonShareSpike, FindingKind::NewReason] {
            assert_eq!(
                Metric::for_finding(Product::DenialScope, Some(kind), sound),
                Metric::ReasonShare
            );
        }
        assert_eq!(
            Metric::for_finding(Product::DenialScope, Some(FindingKind::VolumeSpike), sound),
            Metric::ReasonPerDay
        );
        assert_eq!(
            Metric::for_finding(
                Product::DenialScope,
                Some(FindingKind::DenialDollarsSpike),
                Mode::Compat
            ),
            Metric::ReasonDollars
        );
        // Delay findings plot days to decision: the median the sound test compares, the
        // mean the legacy rule compares.
        for kind in [FindingKind::Slowdown, FindingKind::Trend] {
            assert_eq!(
                Metric::for_finding(Product::DelayGuard, Some(kind), sound),
                Metric::MedianDays
            );
            assert_eq!(
                Metric::for_finding(Product::DelayGuard, Some(kind), Mode::Compat),
                Metric::MeanDays
            );
        }
        assert_eq!(
            Metric::for_finding(
                Product::DriftWatch,
                Some(FindingKind::DecisionTime),
                Mode::Compat
            ),
            Metric::MedianDays
        );
        assert_eq!(
            Metric::for_finding(Product::DriftWatch, Some(FindingKind::DenialRate), sound),
            Metric::DenialRate
        );
        // An unknown stored kind falls back to the product's main measure.
        assert_eq!(
            Metric::for_finding(Product::DenialScope, None, sound),
            Metric::ReasonShare
        );
        assert!(Metric::ReasonShare.is_share() && Metric::ReasonShare.is_reason());
        assert!(Metric::MedianDays.is_days() && !Metric::MedianDays.is_share());
    }
}
