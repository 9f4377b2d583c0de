//! Server-rendered SVG line charts (no script, no CDN): a weekly series with the baseline
//! and current windows shaded, axis labels, and a text alternative; and per-minute
//! sparklines for the staff dashboard.

use std::fmt::Write;

use chrono::NaiveDate;

pub struct Point {
    pub week_start: NaiveDate,
    pub value: Option<f64>,
}

pub struct ChartSpec<'a> {
    pub title: &'a str,
    pub y_label: &'a str,
    /// Formats a value for the axis and the text alternative (e.g. as a percentage).
    pub format: fn(f64) -> String,
    pub points: &'a [Point],
    pub baseline: (NaiveDate, NaiveDate),
    pub current: (NaiveDate, NaiveDate),
}

const WIDTH: f64 = 520.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 52.0;
const RIGHT: f64 = 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 34.0;

pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG markup; every text in it is escaped here.
pub fn line_chart(spec: &ChartSpec<'_>) -> String {
    let values: Vec<f64> = spec.points.iter().filter_map(|p| p.value).collect();
    let (Some(first), Some(last)) = (spec.points.first(), spec.points.last()) else {
        return String::new();
    };
    let max = values.iter().copied().fold(0.0_f64, f64::max);
    let y_max = if max <= 0.0 { 1.0 } else { max * 1.15 };
    let x0 = first.week_start;
    let span_days = ((last.week_start - x0).num_days() + 7).max(7) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |d: NaiveDate| LEFT + ((d - x0).num_days() as f64 / span_days) * plot_w;
    let y = |v: f64| TOP + plot_h - (v / y_max) * plot_h;

    let summary = {
        let described: Vec<String> = spec
            .points
            .iter()
            .filter_map(|p| {
                p.value
                    .map(|v| format!("week of {}: {}", p.week_start, (spec.format)(v)))
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
    for (class, (start, end), label) in [
        ("baseline", spec.baseline, "baseline"),
        ("current", spec.current, "current"),
    ] {
        let (sx, ex) = (x(start.max(x0)), x(end).min(WIDTH - RIGHT));
        if ex > sx {
            let _ = write!(
                svg,
                r#"<rect class="window-{class}" x="{sx:.1}" y="{TOP}" width="{:.1}" height="{plot_h}"/><text class="window-label" x="{:.1}" y="{:.1}">{label}</text>"#,
                ex - sx,
                sx + 4.0,
                TOP + 11.0
            );
        }
    }
    for i in 0..=4 {
        let v = y_max * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"#,
            WIDTH - RIGHT,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0,
            escape(&(spec.format)(v))
        );
    }
    for p in [first, &spec.points[spec.points.len() / 2], last] {
        let _ = write!(
            svg,
            r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            x(p.week_start) + 3.0,
            HEIGHT - 16.0,
            p.week_start.format("%b %d")
        );
    }
    let _ = write!(
        svg,
        r#"<text class="axis-label" x="{:.1}" y="{:.1}" text-anchor="middle">week starting</text><text class="axis-label" x="12" y="{:.1}" transform="rotate(-90 12 {:.1})" text-anchor="middle">{}</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 2.0,
        TOP + plot_h / 2.0,
        TOP + plot_h / 2.0,
        escape(spec.y_label)
    );
    let path: Vec<String> = spec
        .points
        .iter()
        .filter_map(|p| {
            p.value
                .map(|v| format!("{:.1},{:.1}", x(p.week_start) + 3.0, y(v)))
        })
        .collect();
    if !path.is_empty() {
        let _ = write!(
            svg,
            r#"<polyline class="series" points="{}"/>"#,
            path.join(" ")
        );
        for p in spec.points {
            if let Some(v) = p.value {
                let _ = write!(
                    svg,
                    r#"<circle class="dot" cx="{:.1}" cy="{:.1}" r="2.5"/>"#,
                    x(p.week_start) + 3.0,
                    y(v)
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
            })
            .collect();
        let svg = line_chart(&ChartSpec {
            title: "Denial rate <Cigna & co>",
            y_label: "denial rate",
            format: |v| format!("{:.0} %", v * 100.0),
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
            format: |v| v.to_string(),
            points: &[],
            baseline: (NaiveDate::MIN, NaiveDate::MIN),
            current: (NaiveDate::MIN, NaiveDate::MIN),
        });
        assert!(svg.is_empty());
    }
}
