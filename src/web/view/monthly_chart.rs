//! The scorecard's small monthly chart: one bar per month for the payer's denial rate and
//! a line for the tenant's other payers, as server-rendered SVG (no script). Each bar has
//! a `<title>` with its figures, and the whole chart a text alternative.

use std::fmt::Write;

use super::charts::escape;

/// One month: its label (`Mar 2026`) and the two rates (`None`: nothing decided).
pub struct MonthBar {
    pub label: String,
    pub payer: Option<f64>,
    pub others: Option<f64>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = 40.0;

fn pct(v: f64) -> String {
    format!("{:.1} %", v * 100.0)
}

/// A round top for the y axis: the smallest of 5, 10, 20, 25, 50, 75, 100 % at or above
/// the largest rate (with a little headroom).
fn axis_top(max: f64) -> f64 {
    [0.05, 0.1, 0.2, 0.25, 0.5, 0.75, 1.0]
        .into_iter()
        .find(|top| max * 1.05 <= *top)
        .unwrap_or(1.0)
}

pub fn denial_rate_chart(payer: &str, months: &[MonthBar]) -> String {
    if months.is_empty() {
        return String::new();
    }
    let max = months
        .iter()
        .flat_map(|m| [m.payer, m.others])
        .flatten()
        .fold(0.0_f64, f64::max);
    let top = axis_top(max);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let slot = plot_w / months.len() as f64;
    let y = |v: f64| TOP + plot_h - (v / top) * plot_h;
    let x_mid = |i: usize| LEFT + slot * (i as f64 + 0.5);

    let summary: Vec<String> = months
        .iter()
        .map(|m| {
            format!(
                "{}: {} (other payers {})",
                m.label,
                m.payer.map_or("no claims".into(), pct),
                m.others.map_or("no claims".into(), pct)
            )
        })
        .collect();
    let title = format!("{payer}: monthly denial rate against the other payers");
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart monthly-chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>"#,
        escape(&format!("{title}. {}", summary.join("; "))),
        escape(&title)
    );
    for i in 0..=4 {
        let v = top * f64::from(i) / 4.0;
        let _ = write!(
            svg,
            r#"<line class="grid" x1="{LEFT}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="tick" x="{:.1}" y="{:.1}" text-anchor="end">{:.0} %</text>"#,
            WIDTH - RIGHT,
            y(v),
            y(v),
            LEFT - 6.0,
            y(v) + 4.0,
            v * 100.0
        );
    }
    let bar_w = (slot * 0.6).max(2.0);
    for (i, m) in months.iter().enumerate() {
        if let Some(v) = m.payer {
            let _ = write!(
                svg,
                r#"<rect class="bar" x="{:.1}" y="{:.1}" width="{bar_w:.1}" height="{:.1}"><title>{}</title></rect>"#,
                x_mid(i) - bar_w / 2.0,
                y(v),
                (TOP + plot_h - y(v)).max(0.0),
                escape(&summary[i])
            );
        }
        // Every other month labelled when there are many, so labels never overlap.
        if months.len() <= 6 || i % 2 == months.len() % 2 || i + 1 == months.len() {
            let _ = write!(
                svg,
                r#"<text class="tick" x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
                x_mid(i),
                HEIGHT - BOTTOM + 16.0,
                escape(&m.label)
            );
        }
    }
    let line: Vec<String> = months
        .iter()
        .enumerate()
        .filter_map(|(i, m)| m.others.map(|v| format!("{:.1},{:.1}", x_mid(i), y(v))))
        .collect();
    if !line.is_empty() {
        let _ = write!(
            svg,
            r#"<polyline class="series series-others" points="{}"/>"#,
            line.join(" ")
        );
    }
    let legend_y = HEIGHT - 6.0;
    let _ = write!(
        svg,
        r#"<rect class="bar" x="{LEFT}" y="{:.1}" width="10" height="10"/><text class="axis-label" x="{:.1}" y="{legend_y:.1}">{}</text><line class="series series-others" x1="{:.1}" x2="{:.1}" y1="{:.1}" y2="{:.1}"/><text class="axis-label" x="{:.1}" y="{legend_y:.1}">other payers</text>"#,
        legend_y - 9.0,
        LEFT + 14.0,
        escape(payer),
        LEFT + 220.0,
        LEFT + 240.0,
        legend_y - 4.0,
        legend_y - 4.0,
        LEFT + 244.0
    );
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_line_and_text_alternative_escape_the_payer() {
        let months = vec![
            MonthBar {
                label: "Jan 2026".into(),
                payer: Some(0.12),
                others: Some(0.08),
            },
            MonthBar {
                label: "Feb 2026".into(),
                payer: None,
                others: Some(0.1),
            },
        ];
        let svg = denial_rate_chart("<A&B>", &months);
        assert!(svg.contains("&lt;A&amp;B&gt;") && !svg.contains("<A&B>"));
        assert_eq!(
            svg.matches("<rect class=\"bar\"").count(),
            2,
            "one bar + legend"
        );
        assert!(svg.contains("Feb 2026: no claims (other payers 10.0 %)"));
        assert!(svg.contains("<polyline"));
        assert!(svg.contains(">20 %<"), "axis tops at a round 20 %");
    }

    #[test]
    fn the_axis_top_is_round_and_above_the_largest_rate() {
        assert_eq!(axis_top(0.0), 0.05);
        assert_eq!(axis_top(0.11), 0.2);
        assert_eq!(axis_top(0.24), 0.5);
        assert_eq!(axis_top(0.97), 1.0);
    }
}
