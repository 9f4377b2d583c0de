//! Shared by the drift, denials and delays pages: validated filters (a bad value is a
//! 400 naming the parameter), event rows formatted for reading, and their charts.

use std::collections::HashMap;

use chrono::NaiveDate;

use crate::db::repo::analytics::{DriftEvent, EventFilter};
use crate::domain::analytics::chart::Metric;
use crate::domain::analytics::windows::LastDays;
use crate::domain::analytics::{Direction, FindingKind, Product, ValueUnit};
use crate::domain::stats::SeverityLabel;
use crate::services::analytics::charts::ChartSeries;
use crate::web::errors::AppError;
use crate::web::errors::url_encode;
use crate::web::http::query::page_number;
use crate::web::view::charts::{self, ChartSpec, Point, Unit};

pub const PER_PAGE: i64 = 20;

/// Filters as the user typed them (for the form) and as validated (for the query).
pub struct Filters {
    pub filter: EventFilter,
    pub page: i64,
    pub raw: HashMap<String, String>,
}

/// A refused filter: the field it belongs to (so the page can show the message beside it)
/// and the sentence. SPEC §10: the feed answers 400 on the feed page itself, filters kept;
/// the CSV export answers a plain 400 with the same sentence.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct FilterError {
    pub field: &'static str,
    pub message: String,
}

impl FilterError {
    /// A refused parameter, worded as every list page words it (`http::query::bad_param`).
    pub fn bad(name: &'static str, expected: &str) -> FilterError {
        FilterError {
            field: name,
            message: format!("The parameter '{name}' is not valid: expected {expected}."),
        }
    }

    /// The message a page shows beside `field`, if the refused filter is that field.
    pub fn beside<'a>(invalid: Option<&'a FilterError>, field: &str) -> Option<&'a str> {
        invalid
            .filter(|e| e.field == field)
            .map(|e| e.message.as_str())
    }
}

impl From<FilterError> for AppError {
    fn from(e: FilterError) -> Self {
        AppError::BadRequest(e.message)
    }
}

fn date(
    raw: &HashMap<String, String>,
    name: &'static str,
) -> Result<Option<NaiveDate>, FilterError> {
    match raw.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => NaiveDate::parse_from_str(v, "%Y-%m-%d")
            .map(Some)
            .map_err(|_| FilterError::bad(name, "a date like 2026-11-24")),
    }
}

fn text(raw: &HashMap<String, String>, name: &str) -> Option<String> {
    raw.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Severity threshold from a label only (SPEC §10: `low`, `medium`, `high`, `critical`); the
/// band's floor is what the query compares. Numbers are refused: people never see them.
pub fn parse_min_severity(value: &str) -> Option<f64> {
    value
        .trim()
        .parse::<SeverityLabel>()
        .ok()
        .map(|label| label.floor())
}

/// Validates the query string of a findings page.
pub fn parse_filters(
    raw: HashMap<String, String>,
    product: Product,
) -> Result<Filters, FilterError> {
    let kinds = product.kinds();
    let kind = match text(&raw, "kind") {
        None => None,
        Some(k) => Some(
            k.parse::<FindingKind>()
                .ok()
                .filter(|k| kinds.contains(k))
                .ok_or_else(|| {
                    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
                    FilterError::bad("kind", &format!("one of {}", names.join(", ")))
                })?,
        ),
    };
    let direction = text(&raw, "direction")
        .map(|d| d.parse::<Direction>())
        .transpose()
        .map_err(|_| FilterError::bad("direction", "worse or better"))?;
    let min_severity = match text(&raw, "min_severity") {
        None => None,
        Some(v) => Some(
            parse_min_severity(&v)
                .ok_or_else(|| FilterError::bad("min_severity", "low, medium, high or critical"))?,
        ),
    };
    let last_days = LastDays::new(date(&raw, "from")?, date(&raw, "to")?)
        .map_err(|_| FilterError::bad("from", "a date on or before 'to'"))?;
    let newest_first = match text(&raw, "sort").as_deref() {
        None | Some("money") => false,
        Some("newest") => true,
        Some(_) => return Err(FilterError::bad("sort", "money or newest")),
    };
    let page = page_number(text(&raw, "page").as_deref())
        .map_err(|_| FilterError::bad("page", "a page number from 1"))?;
    Ok(Filters {
        filter: EventFilter {
            products: vec![product],
            payer: text(&raw, "payer"),
            cpt_group: text(&raw, "cpt_group"),
            kind,
            direction,
            min_severity,
            last_days,
            newest_first,
        },
        page,
        raw,
    })
}

impl Filters {
    /// The filters as a query string (for pagination and the CSV link), without `page`.
    pub fn query_string(&self) -> String {
        let mut pairs: Vec<(&String, &String)> = self
            .raw
            .iter()
            .filter(|(k, v)| k.as_str() != "page" && !v.trim().is_empty())
            .collect();
        pairs.sort();
        pairs
            .into_iter()
            .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v.trim())))
            .collect::<Vec<_>>()
            .join("&")
    }

    pub fn value(&self, name: &str) -> String {
        self.raw.get(name).cloned().unwrap_or_default()
    }
}

/// A stored kind as people read it.
fn kind_label(kind: &str) -> String {
    kind.parse::<FindingKind>()
        .map_or_else(|_| kind.replace('_', " "), |k| k.label().to_string())
}

/// An event ready for a page.
pub struct EventView {
    pub id: i64,
    pub payer: String,
    pub group: String,
    /// The reason code's words on DenialScope findings (empty when unknown or not a reason).
    pub group_words: &'static str,
    pub kind: String,
    pub kind_label: String,
    pub direction: String,
    pub severity_label: String,
    pub severity_class: &'static str,
    pub baseline: String,
    pub current: String,
    pub delta: String,
    pub interval: String,
    pub p_value: String,
    pub q_value: String,
    pub baseline_n: i64,
    pub current_n: i64,
    pub baseline_window: String,
    pub current_window: String,
    pub continuing: bool,
    pub chart_svg: String,
    /// Plain words (issue 17 item 5): money at stake, how sure, claims counted, and the
    /// robust estimate when it differs from current − baseline.
    pub money: String,
    pub certainty: String,
    pub claims: String,
    pub robust: Option<String>,
}

/// The badge colour of a stored severity label (an unknown one reads as low).
pub fn severity_class(label: &str) -> &'static str {
    match label.parse::<SeverityLabel>() {
        Ok(SeverityLabel::Critical) => "badge-critical",
        Ok(SeverityLabel::High) => "badge-bad",
        Ok(SeverityLabel::Medium) => "badge-warn",
        Ok(SeverityLabel::Low) | Err(_) => "badge-info",
    }
}

fn window_text(start: NaiveDate, end: NaiveDate) -> String {
    let days = (end - start).num_days();
    let last = end.pred_opt().unwrap_or(end);
    format!("{days} days to {last}")
}

/// p and q for the curious, never in `e-` notation (the card says it in words).
fn p_text(p: Option<f64>) -> String {
    match p {
        None => "—".into(),
        Some(p) if p < 0.0001 => "< 0.0001".into(),
        Some(p) => format!("{p:.4}"),
    }
}

/// Money at stake a month, in words that fit the kind of finding.
fn money_text(event: &DriftEvent) -> String {
    let Some(d) = event.dollars_per_month else {
        return if event.mode == "compat" {
            "not computed in legacy thresholds mode".into()
        } else {
            "unknown (the claims carry no allowed amounts)".into()
        };
    };
    crate::domain::analytics::impact::money_words(event.kind.parse::<FindingKind>().ok(), d)
}

/// The group a card names: a payer-level finding (`*`) lists the groups it stands for.
fn group_text(event: &DriftEvent) -> String {
    if event.cpt_group != crate::domain::analytics::grouping::ALL_GROUPS {
        return event.cpt_group.clone();
    }
    match serde_json::from_str::<crate::domain::analytics::Evidence>(&event.evidence_json) {
        Ok(crate::domain::analytics::Evidence::PayerLevel { members }) if !members.is_empty() => {
            members
                .iter()
                .map(|m| m.group.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
        _ => "all groups".into(),
    }
}

pub fn view(event: &DriftEvent, chart_svg: String) -> EventView {
    let unit = ValueUnit::of_stored_kind(&event.kind);
    let rate = unit == ValueUnit::Share;
    // The change shown is always current − baseline; a test's own estimate (the
    // Hodges–Lehmann shift for decision days) is labelled when it differs.
    let shown = event.current_value - event.baseline_value;
    let robust = ((event.delta - shown).abs() > 0.05 && unit == ValueUnit::Days).then(|| {
        format!(
            "robust estimate of the typical claim's change (Hodges–Lehmann shift): {}",
            crate::domain::format::days(event.delta, true)
        )
    });
    let interval = match (event.ci_low, event.ci_high) {
        (Some(lo), Some(hi)) if rate => {
            format!(
                "95 % confidence interval {:.1} to {:.1} points",
                lo * 100.0,
                hi * 100.0
            )
        }
        (Some(lo), Some(hi)) if unit == ValueUnit::Days => {
            format!("95 % confidence interval {lo:.1} to {hi:.1} days")
        }
        (Some(lo), Some(hi)) => format!(
            "95 % confidence interval {} to {}",
            unit.value(lo),
            unit.value(hi)
        ),
        _ if event.mode == "compat" => "compat rule, no interval".into(),
        _ if rate => "no interval".into(),
        _ => String::new(),
    };
    EventView {
        id: event.id,
        payer: event.payer.clone(),
        group: group_text(event),
        group_words: if event.product == crate::domain::analytics::Product::DenialScope.as_str() {
            crate::domain::carc::describe(&event.cpt_group).unwrap_or("")
        } else {
            ""
        },
        kind: event.kind.clone(),
        kind_label: kind_label(&event.kind),
        direction: event.direction.clone(),
        severity_label: event.severity_label.clone(),
        severity_class: severity_class(&event.severity_label),
        baseline: unit.value(event.baseline_value),
        current: unit.value(event.current_value),
        delta: unit.change(if rate { event.delta } else { shown }),
        interval,
        p_value: p_text(event.p_value),
        q_value: p_text(event.q_value),
        baseline_n: event.baseline_n,
        current_n: event.current_n,
        baseline_window: window_text(event.baseline_start, event.baseline_end),
        current_window: window_text(event.current_start, event.current_end),
        continuing: event.continuing,
        chart_svg,
        money: money_text(event),
        certainty: match event.q_value.or(event.p_value) {
            Some(q) => crate::domain::format::certainty(q),
            None if event.mode == "compat" => {
                "a legacy threshold rule, not a statistical test".into()
            }
            None => "not tested".into(),
        },
        claims: format!(
            "{} claims before, {} in the current window",
            crate::domain::format::thousands(event.baseline_n.max(0) as u64),
            crate::domain::format::thousands(event.current_n.max(0) as u64)
        ),
        robust,
    }
}

/// The chart of a finding: its series (the metric the card is about) as SVG.
pub fn chart_svg(event: &DriftEvent, series: &ChartSeries) -> String {
    let unit = match series.metric {
        Metric::DenialRate | Metric::ReasonShare => Unit::Share,
        Metric::MedianDays | Metric::MeanDays => Unit::Days,
        Metric::ReasonPerDay => Unit::PerDay,
        Metric::ReasonDollars => Unit::Dollars,
    };
    let points: Vec<Point> = series
        .points
        .iter()
        .map(|p| {
            let n = crate::domain::format::thousands(p.basis);
            Point {
                week_start: p.week_start,
                value: p.value,
                note: match series.metric {
                    Metric::DenialRate | Metric::MedianDays | Metric::MeanDays => {
                        format!("{n} decided claims")
                    }
                    Metric::ReasonShare => format!("of {n} denials"),
                    Metric::ReasonPerDay | Metric::ReasonDollars => {
                        format!("{n} denials with this reason")
                    }
                },
            }
        })
        .collect();
    charts::line_chart(&ChartSpec {
        title: &series.title,
        y_label: series.metric.label(),
        unit,
        points: &points,
        baseline: (event.baseline_start, event.baseline_end),
        current: (event.current_start, event.current_end),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_finding_card_reads_its_numbers_in_the_kinds_unit() {
        let volume = DriftEvent {
            baseline_value: 3.2,
            current_value: 12.5,
            delta: 9.3,
            ..DriftEvent::example("denial_scope", "volume_spike", "CO-197")
        };
        let card = view(&volume, String::new());
        assert_eq!(
            (card.baseline.as_str(), card.current.as_str()),
            ("3.2 denials a day", "12.5 denials a day")
        );
        assert_eq!(card.delta, "+9.3 denials a day");
        let dollars = DriftEvent {
            mode: "compat".into(),
            baseline_value: 10_000.0,
            current_value: 22_000.0,
            delta: 12_000.0,
            ..DriftEvent::example("denial_scope", "denial_dollars_spike", "CO-197")
        };
        let card = view(&dollars, String::new());
        assert_eq!(
            (card.baseline.as_str(), card.delta.as_str()),
            ("$10,000", "+$12,000")
        );
        let rate = view(
            &DriftEvent::example("drift_watch", "denial_rate", "IMAGING"),
            String::new(),
        );
        assert_eq!(
            (rate.baseline.as_str(), rate.delta.as_str()),
            ("10.0 %", "+30.0 points")
        );
    }

    #[test]
    fn bad_parameters_are_named() {
        for (name, value) in [
            ("from", "yesterday"),
            ("to", "2026-13-01"),
            ("page", "0"),
            ("page", "x"),
            ("min_severity", "huge"),
            ("min_severity", "0.4"),
            ("kind", "drop table"),
            ("direction", "up"),
            // A kind of another product's page.
            ("kind", "slowdown"),
        ] {
            let err = parse_filters(raw(&[(name, value)]), Product::DriftWatch)
                .err()
                .expect("refused");
            assert!(err.to_string().contains(name), "{name}: {err}");
        }
        let err = parse_filters(
            raw(&[("from", "2026-11-02"), ("to", "2026-11-01")]),
            Product::DriftWatch,
        )
        .err()
        .expect("refused");
        assert!(err.to_string().contains("from"));
    }

    #[test]
    fn good_parameters_become_a_filter_and_survive_pagination() {
        let f = parse_filters(
            raw(&[
                ("payer", "Cigna"),
                ("min_severity", "high"),
                ("from", "2026-10-01"),
                ("page", "2"),
                ("kind", "denial_rate"),
            ]),
            Product::DriftWatch,
        )
        .expect("valid");
        assert_eq!(f.page, 2);
        // "Window ends from 2026-10-01": stored (exclusive) ends from 2026-10-02.
        assert_eq!(
            f.filter.last_days.end_bounds(),
            (NaiveDate::from_ymd_opt(2026, 10, 2), None)
        );
        assert_eq!(f.filter.min_severity, Some(0.7));
        assert_eq!(f.filter.kind, Some(FindingKind::DenialRate));
        assert_eq!(
            f.query_string(),
            "from=2026-10-01&kind=denial_rate&min_severity=high&payer=Cigna"
        );
    }
}
