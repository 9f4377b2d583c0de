//! Server-rendered SVG line charts (no script, no CDN): a weekly series with the baseline
//! and current windows shaded, axis labels, and a text alternative; and per-minute
//! sparklines for the staff dashboard.

use std::fmt::Write;

use chrono::NaiveDate;

pub struct Point {
    pub week_start: NaiveDate,
    pub value: Option<f64>,
    /// Said after the value on hover ("240 decided claims").
    pub note: String,
}

/// What the values are: decides how ticks and hover values read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// 0–1, shown as %.
    Share,
    Days,
    PerDay,
    Dollars,
}

impl Unit {
    /// A tick: as many decimals as the step needs, no more.
    fn tick(self, v: f64, step: f64) -> String {
        match self {
            Unit::Share => format!("{} %", decimal_for_step(v * 100.0, step * 100.0)),
            Unit::Days => format!("{} d", decimal_for_step(v, step)),
            Unit::PerDay => decimal_for_step(v, step),
            Unit::Dollars if step >= 1.0 => crate::domain::format::dollars(v),
            Unit::Dollars => format!("${}", decimal_for_step(v, step)),
        }
    }

    /// A value on hover and in the text alternative.
    fn value(self, v: f64) -> String {
        match self {
            Unit::Share => crate::domain::format::percent(v),
            Unit::Days => crate::domain::format::days(v, false),
            Unit::PerDay => format!("{} a day", crate::domain::format::decimal(v, 1)),
            Unit::Dollars => crate::domain::format::dollars(v),
        }
    }
}

/// `v` with the decimals a tick step of `step` needs (0.5 → 1, 0.05 → 2), separators in
/// the integer part.
fn decimal_for_step(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 || step <= 0.0 {
        0
    } else {
        (-step.log10() - 1e-9).ceil() as usize
    };
    crate::domain::format::decimal(v, decimals)
}

/// Round y ticks from 0: a step of 1, 2 or 5 × 10ⁿ giving at most `max_ticks` intervals,
/// the top tick at or above `max` (the series never leaves the plot). A series of zeros
/// (or nothing) gets the unit interval.
pub fn nice_ticks(max: f64, max_ticks: usize) -> Vec<f64> {
    let max = if max.is_finite() && max > 0.0 {
        max
    } else {
        1.0
    };
    let intervals = max_ticks.max(1) as f64;
    let raw = max / intervals;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s * intervals >= max * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    let count = (max / step - 1e-9).ceil().max(1.0) as usize;
    // i × step, rounded to the step's decimals so 0.1 × 3 reads 0.3, not 0.30000000000000004.
    let scale = 10f64.powi((-step.log10()).ceil().max(0.0) as i32 + 1);
    (0..=count)
        .map(|i| (i as f64 * step * scale).round() / scale)
        .collect()
}

pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    pub unit: Unit,
    pub points: &'a [Point],
    pub baseline: (NaiveDate, NaiveDate),
    pub current: (NaiveDate, NaiveDate),
}

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 200.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = 14.0;
/// Room above the plot for the window labels.
const TOP: f64 = 22.0;
const BOTTOM: f64 = 34.0;

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Dates to label under the x axis: the first of each month in the span, or each week
/// start when the span is shorter than six weeks.
fn x_ticks(from: NaiveDate, to: NaiveDate, points: &[Point]) -> Vec<(NaiveDate, String)> {
    use chrono::Datelike;
    if (to - from).num_days() < 42 {
        return points
            .iter()
            .map(|p| (p.week_start, p.week_start.format("%b %-d").to_string()))
            .collect();
    }
    let mut ticks = Vec::new();
    let mut month = NaiveDate::from_ymd_opt(from.year(), from.month(), 1).unwrap_or(from);
    while month <= to {
        if month >= from {
            ticks.push((month, month.format("%b %-d").to_string()));
        }
        month = month
            .checked_add_months(chrono::Months::new(1))
            .unwrap_or(NaiveDate::MAX);
    }
    ticks
}

/// The SVG markup; every text in it is escaped here. The x axis runs from the first
/// point's week to the end of the last point's week; y from 0 to a round top tick.
pub fn line_chart(spec: &ChartSpec<'_>) -> String {
    let (Some(first), Some(last)) = (spec.points.first(), spec.points.last()) else {
        return String::new();
    };
    let max = spec
        .points
        .iter()
        .filter_map(|p| p.value)
        .fold(0.0_f64, f64::max);
    let ticks = nice_ticks(max, 4);
    let step = ticks.get(1).copied().unwrap_or(1.0);
    let y_max = ticks.last().copied().unwrap_or(1.0);
    let x0 = first.week_start;
    let x_end = last.week_start + chrono::Duration::days(7);
    let span_days = (x_end - x0).num_days().max(7) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |d: NaiveDate| {
        let f = ((d - x0).num_days() as f64 / span_days).clamp(0.0, 1.0);
        LEFT + f * plot_w
    };
    // A week's value sits in the middle of its week.
    let x_mid = |d: NaiveDate| x(d) + 3.5 / span_days * plot_w;
    let y = |v: f64| TOP + plot_h - (v / y_max) * plot_h;

    let summary = {
        let described: Vec<String> = spec
            .points
            .iter()
            .filter_map(|p| {
                p.value
                    .map(|v| format!("week of {}: {}", p.week_start, spec.unit.value(v)))
            })
            .collect();
        format!("{}. {}", spec.title, described.join("; "))
    };
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(&summary),
        escape(spec.title)
    );
    // Windows shaded inside the plot, labelled above it: the baseline's label from its
    // left edge, the current's ending at its right edge, so neither runs off the chart.
    for (class, (start, end), label, anchor) in [
        ("baseline", spec.baseline, "baseline", "start"),
        ("current", spec.current, "current", "end"),
    ] {
        let (sx, ex) = (x(start), x(end));
        if ex > sx {
            let lx = if anchor == "start" {
                sx + 2.0
            } else {
                ex - 2.0
            };
            let _ = write!(
                svg,
                r#"<rect class="window-{class}" x="{sx:.1}" y="{TOP}" width="{:.1}" height="{plot_h}"><title>{label} window: {} to {}</title></rect><text class="window-label" x="{lx:.1}" y="{:.1}" text-anchor="{anchor}">{label}</text>"#,
                ex - sx,
                start,
                end.pred_opt().unwrap_or(end),
                TOP - 6.0
            );
        }
    }
    for &v in &ticks {
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 3.5,
            escape(&spec.unit.tick(v, step))
        );
    }
    for (date, label) in x_ticks(x0, x_end, spec.points) {
        let tx = x(date);
        // Labels near an edge are anchored inside the chart.
        let anchor = if tx - LEFT < 18.0 {
            "start"
        } else if WIDTH - RIGHT - tx < 18.0 {
            "end"
        } else {
            "middle"
        };
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{tx:.1}" x2="{tx:.1}" y1="{:.1}" y2="{:.1}"/><text class="tick" x="{tx:.1}" y="{:.1}" text-anchor="{anchor}">{}</text>"#,
            TOP + plot_h,
            TOP + plot_h + 4.0,
            HEIGHT - 18.0,
            escape(&label)
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">week starting</text><text class="axis-label" x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 3.0,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(spec.y_label)
    );
    let path: Vec<String> = spec
        .points
        .iter()
        .filter_map(|p| {
            p.value
                .map(|v| format!("{:.1},{:.1}", x_mid(p.week_start), y(v)))
        })
        .collect();
    if !path.is_empty() {
        let _ = write!(
            svg,
            r#"<polyline class="series" points="{}"/>"#,
            path.join(" ")
        );
        // Each point says its value on hover; the transparent circle is the target.
        for p in spec.points {
            if let Some(v) = p.value {
                let (cx, cy) = (x_mid(p.week_start), y(v));
                let note = if p.note.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", p.note)
                };
                let _ = write!(
                    svg,
                    r#"<g class="point"><circle class="dot" cx="{cx:.1}" cy="{cy:.1}" r="2.5"/><circle class="hit" cx="{cx:.1}" cy="{cy:.1}" r="7" fill="transparent"/><title>Week of {}: {}{}</title></g>"#,
                    p.week_start.format("%b %-d, %Y"),
                    escape(&spec.unit.value(v)),
                    escape(&note)
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A small per-minute line (the staff dashboard): `values` oldest first, one per minute.
pub struct SparklineSpec<'a> {
    pub title: &'a str,
    /// The unit of the values, shown on the y axis ("requests/min", "ms").
    pub y_label: &'a str,
    pub format: fn(f64) -> String,
    pub values: &'a [f64],
    /// Labels under the first and last point ("60 min ago", "now").
    pub start_label: &'a str,
    pub end_label: &'a str,
}

const SPARK_W: f64 = 360.0;
const SPARK_H: f64 = 96.0;
const SPARK_LEFT: f64 = 46.0;
const SPARK_RIGHT: f64 = 8.0;
const SPARK_TOP: f64 = 8.0;
const SPARK_BOTTOM: f64 = 18.0;

/// Server-rendered sparkline with a title, the maximum and zero on the y axis, the time
/// span on the x axis and a text alternative (latest, peak and average).
pub fn sparkline(spec: &SparklineSpec<'_>) -> String {
    let n = spec.values.len();
    if n == 0 {
        return String::new();
    }
    let max = spec.values.iter().copied().fold(0.0_f64, f64::max);
    let y_max = if max <= 0.0 { 1.0 } else { max };
    let plot_w = SPARK_W - SPARK_LEFT - SPARK_RIGHT;
    let plot_h = SPARK_H - SPARK_TOP - SPARK_BOTTOM;
    let step = if n > 1 { plot_w / (n - 1) as f64 } else { 0.0 };
    let x = |i: usize| SPARK_LEFT + i as f64 * step;
    let y = |v: f64| SPARK_TOP + plot_h - (v.max(0.0) / y_max) * plot_h;
    let latest = spec.values[n - 1];
    let mean = spec.values.iter().sum::<f64>() / n as f64;
    let summary = format!(
        "{}: latest {}, peak {}, average {} ({} to {}).",
        spec.title,
        (spec.format)(latest),
        (spec.format)(max),
        (spec.format)(mean),
        spec.start_label,
        spec.end_label
    );
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="sparkline" viewBox="0 0 {SPARK_W} {SPARK_H}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(&summary),
        escape(spec.title)
    );
    for (v, label) in [(y_max, (spec.format)(max)), (0.0, (spec.format)(0.0))] {
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{SPARK_LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            SPARK_W - SPARK_RIGHT,
            y(v),
            y(v),
            SPARK_LEFT - 4.0,
            y(v) + 3.5,
            escape(&label)
        );
    }
    let _ = write!(
        svg,
        r#"<text class="tick" x="{SPARK_LEFT}" y="{:.1}" text-anchor="start">{}</text><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text><text class="axis-label" x="10" y="{:.1}" transform="rotate(-90 10 {:.1})" text-anchor="middle">{}</text>"#,
        SPARK_H - 4.0,
        escape(spec.start_label),
        SPARK_W - SPARK_RIGHT,
        SPARK_H - 4.0,
        escape(spec.end_label),
        SPARK_TOP + plot_h / 2.0,
        SPARK_TOP + plot_h / 2.0,
        escape(spec.y_label)
    );
    let points: Vec<String> = spec
        .values
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
        .collect();
    let _ = write!(
        svg,
        r#"<polygon class="area" points="{:.1},{:.1} {} {:.1},{:.1}"/><polyline class="series" points="{}"/><circle class="dot" cx="{:.1}" cy="{:.1}" r="2.5"/></svg>"#,
        x(0),
        y(0.0),
        points.join(" "),
        x(n - 1),
        y(0.0),
        points.join(" "),
        x(n - 1),
        y(latest)
    );
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_an_accessible_chart_with_windows() {
        let start = NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
        let points: Vec<Point> = (0..26)
            .map(|i| Point {
                week_start: start + chrono::Duration::weeks(i),
                value: Some(0.1 + f64::from(i as i32) / 100.0),
                note: format!("{} claims", 100 + i),
            })
            .collect();
        let svg = line_chart(&ChartSpec {
            title: "Denial rate <Cigna & co>",
            y_label: "denial rate",
            unit: Unit::Share,
            points: &points,
            baseline: (
                start + chrono::Duration::weeks(10),
                start + chrono::Duration::weeks(23),
            ),
            current: (
                start + chrono::Duration::weeks(24),
                start + chrono::Duration::weeks(26),
            ),
        });
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("role=\"img\"") && svg.contains("<title>"));
        assert!(svg.contains("&lt;Cigna &amp; co&gt;"), "text is escaped");
        assert!(svg.contains("window-baseline") && svg.contains("window-current"));
        assert!(svg.contains("<polyline"));
    }

    #[test]
    fn y_ticks_are_round_numbers_from_zero_covering_the_maximum() {
        assert_eq!(nice_ticks(0.47, 4), vec![0.0, 0.2, 0.4, 0.6]);
        assert_eq!(nice_ticks(37.0, 4), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        assert_eq!(nice_ticks(0.031, 4), vec![0.0, 0.01, 0.02, 0.03, 0.04]);
        assert_eq!(
            nice_ticks(12_400.0, 4),
            vec![0.0, 5_000.0, 10_000.0, 15_000.0]
        );
        assert_eq!(nice_ticks(40.0, 4), vec![0.0, 10.0, 20.0, 30.0, 40.0]);
        // Nothing to plot, or only zeros: the unit interval, never a zero-height axis.
        assert_eq!(nice_ticks(0.0, 4), vec![0.0, 0.5, 1.0]);
        for max in [0.003, 0.19, 1.0, 2.5, 7.3, 99.0, 1234.5, 0.876] {
            let ticks = nice_ticks(max, 4);
            let top = *ticks.last().expect("ticks");
            assert!(
                top >= max && ticks.len() <= 5 && ticks[0] == 0.0,
                "{max}: {ticks:?}"
            );
            let step = ticks[1];
            let mantissa = step / 10f64.powf(step.log10().floor());
            assert!(
                [1.0, 2.0, 5.0].iter().any(|m| (m - mantissa).abs() < 1e-9),
                "{max}: step {step}"
            );
        }
        assert_eq!(Unit::Share.tick(0.2, 0.2), "20 %");
        assert_eq!(Unit::Share.tick(0.03, 0.01), "3 %");
        assert_eq!(Unit::Share.tick(0.005, 0.005), "0.5 %");
        assert_eq!(Unit::Dollars.tick(15_000.0, 5_000.0), "$15,000");
        assert_eq!(Unit::Days.tick(40.0, 10.0), "40 d");
    }

    #[test]
    fn points_say_their_value_on_hover_and_the_axis_starts_at_the_first_point() {
        let start = NaiveDate::from_ymd_opt(2026, 10, 5).expect("date");
        let points: Vec<Point> = [0.114, 0.47]
            .iter()
            .enumerate()
            .map(|(i, v)| Point {
                week_start: start + chrono::Duration::weeks(i as i64),
                value: Some(*v),
                note: "240 decided claims".into(),
            })
            .collect();
        let svg = line_chart(&ChartSpec {
            title: "Cigna × IMAGING: weekly denial rate",
            y_label: "denial rate",
            unit: Unit::Share,
            points: &points,
            // The baseline began long before the first point: shaded from the axis on.
            baseline: (
                start - chrono::Duration::weeks(10),
                start + chrono::Duration::weeks(1),
            ),
            current: (
                start + chrono::Duration::weeks(1),
                start + chrono::Duration::weeks(2),
            ),
        });
        assert!(svg.contains("<title>Week of Oct 5, 2026: 11.4 % (240 decided claims)</title>"));
        assert!(svg.contains("<title>Week of Oct 12, 2026: 47.0 % (240 decided claims)</title>"));
        // Round ticks up to 60 %.
        for tick in [">0 %<", ">20 %<", ">40 %<", ">60 %<"] {
            assert!(svg.contains(tick), "{tick} missing");
        }
        // Week labels (a short span), the first at the left edge of the plot.
        assert!(svg.contains(&format!(
            r#"x="{LEFT:.1}" y="{:.1}" text-anchor="start">Oct 5<"#,
            HEIGHT - 18.0
        )));
        assert!(svg.contains(&format!(r#"<rect class="window-baseline" x="{LEFT:.1}""#)));
        assert!(!svg.contains("e-"), "no scientific notation");
        // Everything is drawn inside the view box.
        for attr in [" x=\"", " cx=\"", " x1=\"", " x2=\""] {
            for piece in svg.split(attr).skip(1) {
                let v: f64 = piece
                    .split('"')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .expect("number");
                assert!((0.0..=WIDTH).contains(&v), "{attr}{v} outside the chart");
            }
        }
    }

    #[test]
    fn sparklines_have_a_title_axes_and_a_text_alternative() {
        let values: Vec<f64> = (0..60).map(f64::from).collect();
        let svg = sparkline(&SparklineSpec {
            title: "Requests <per> minute",
            y_label: "req/min",
            format: |v| format!("{v:.0}"),
            values: &values,
            start_label: "60 min ago",
            end_label: "now",
        });
        assert!(svg.starts_with("<svg class=\"sparkline\"") && svg.ends_with("</svg>"));
        assert!(svg.contains("&lt;per&gt;") && svg.contains("peak 59"));
        assert!(svg.contains("60 min ago") && svg.contains("req/min"));
        assert_eq!(svg.matches("<polyline").count(), 1);
        let flat = sparkline(&SparklineSpec {
            values: &[0.0; 60],
            ..SparklineSpec {
                title: "t",
                y_label: "y",
                format: |v| v.to_string(),
                values: &[],
                start_label: "a",
                end_label: "b",
            }
        });
        assert!(flat.contains("<polyline"), "all-zero series still draw");
    }

    #[test]
    fn empty_series_render_nothing() {
        let svg = line_chart(&ChartSpec {
            title: "t",
            y_label: "y",
            unit: Unit::Days,
            points: &[],
            baseline: (NaiveDate::MIN, NaiveDate::MIN),
            current: (NaiveDate::MIN, NaiveDate::MIN),
        });
        assert!(svg.is_empty());
    }
}
