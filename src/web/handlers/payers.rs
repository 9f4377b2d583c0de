//! Payer scorecards (issue 19 item 2, SPEC §10): `/portal/payers` lists the tenant's payers,
//! `/portal/payers/{payer}` shows one (the URL-encoded canonical name). Viewers and up;
//! another tenant's payer — or a name the tenant has no claim of — is a 404.

use std::sync::Arc;

use actix_web::{HttpResponse, web};
use askama::Template;

use super::findings::view::{self as findings, EventView};
use crate::domain::carc;
use crate::domain::format;
use crate::domain::scorecard::{Figures, share};
use crate::services::scorecard::{self as service, Pair, ScorecardFigures};
use crate::web::auth::CurrentUser;
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::links::payer_href;
use crate::web::view::monthly_chart::{MonthBar, denial_rate_chart};
use crate::web::view::render::render;

const NAV: &str = "/portal/payers";

/// One line of the comparison table.
struct FigureRow {
    label: &'static str,
    current: String,
    prior: String,
    change: String,
    others: String,
}

struct ReasonRow {
    code: String,
    words: String,
    denials: String,
    share: String,
    prior_share: String,
    change: String,
    others_share: String,
    dollars: String,
}

struct MonthRow {
    label: String,
    decided: String,
    rate: String,
    median: String,
    denied: String,
    paid: String,
    others_rate: String,
}

struct AlertRow {
    id: i64,
    title: String,
    severity_label: String,
    severity_class: &'static str,
    status: String,
    has_claims: bool,
}

/// A scorecard page as kept between requests (`web::caches::pages`): everything but the
/// layout (who is signed in, the CSRF token, flash messages), which is per request.
pub struct ScorecardData {
    title: String,
    payer: String,
    period_days: i64,
    current_window: String,
    prior_window: String,
    figures: Vec<FigureRow>,
    reasons: Vec<ReasonRow>,
    denied_current: String,
    months: Vec<MonthRow>,
    chart_svg: String,
    findings: Vec<EventView>,
    alerts: Vec<AlertRow>,
    alerts_href: String,
}

#[derive(Template)]
#[template(path = "payers/scorecard.html")]
struct ScorecardPage {
    layout: Layout,
    /// The template reads the cached fields through `Deref`.
    data: Arc<ScorecardData>,
}

impl std::ops::Deref for ScorecardPage {
    type Target = ScorecardData;
    fn deref(&self) -> &ScorecardData {
        &self.data
    }
}

fn dash<T>(value: Option<T>, f: impl Fn(T) -> String) -> String {
    value.map_or_else(|| "–".to_string(), f)
}

fn money(cents: i64) -> String {
    format::dollars(cents as f64 / 100.0)
}

fn signed_money(cents: i64) -> String {
    let text = money(cents);
    if cents > 0 { format!("+{text}") } else { text }
}

fn days(v: f64) -> String {
    format::days(v, false)
}

fn change<T: Copy>(a: Option<T>, b: Option<T>, f: impl Fn(T, T) -> String) -> String {
    match (a, b) {
        (Some(a), Some(b)) => f(a, b),
        _ => "–".to_string(),
    }
}

fn figure_rows(current: &Pair, prior: &Pair) -> Vec<FigureRow> {
    let row = |label, get: &dyn Fn(&Figures) -> String, delta: String| FigureRow {
        label,
        current: get(&current.payer),
        prior: get(&prior.payer),
        change: delta,
        others: get(&current.others),
    };
    vec![
        row(
            "Denial rate",
            &|f| dash(f.denial_rate(), format::percent),
            change(
                current.payer.denial_rate(),
                prior.payer.denial_rate(),
                |a, b| format::points(a - b),
            ),
        ),
        row(
            "Median days to decision",
            &|f| dash(f.median_days(), days),
            change(
                current.payer.median_days(),
                prior.payer.median_days(),
                |a, b| format::days(a - b, true),
            ),
        ),
        row(
            "Denied dollars (allowed amount)",
            &|f| money(f.denied_cents),
            signed_money(current.payer.denied_cents - prior.payer.denied_cents),
        ),
        row(
            "Paid dollars (allowed amount)",
            &|f| money(f.paid_cents),
            signed_money(current.payer.paid_cents - prior.payer.paid_cents),
        ),
        row(
            "Claims decided",
            &|f| format::thousands(f.decided().max(0) as u64),
            {
                let d = current.payer.decided() - prior.payer.decided();
                let text = format::thousands(d.unsigned_abs());
                if d >= 0 {
                    format!("+{text}")
                } else {
                    format!("−{text}")
                }
            },
        ),
    ]
}

fn reason_rows(card: &ScorecardFigures) -> Vec<ReasonRow> {
    let (mine, others) = card.denied_current;
    card.reasons
        .iter()
        .map(|r| {
            let code = r.code.clone().unwrap_or_default();
            let now = share(r.current, mine);
            let before = share(r.prior, card.denied_prior);
            ReasonRow {
                words: carc::describe(&code)
                    .map(str::to_string)
                    .unwrap_or_else(|| {
                        if code.is_empty() {
                            "denied without a reason code".into()
                        } else {
                            String::new()
                        }
                    }),
                code,
                denials: format::thousands(r.current.max(0) as u64),
                share: dash(now, format::percent),
                prior_share: dash(before, format::percent),
                change: change(now, before, |a, b| format::points(a - b)),
                others_share: dash(share(r.others_current, others), format::percent),
                dollars: money(r.current_cents),
            }
        })
        .collect()
}

fn window(range: (chrono::NaiveDate, chrono::NaiveDate)) -> String {
    let last = range.1.pred_opt().unwrap_or(range.1);
    format!("{} to {last}", range.0)
}

pub async fn scorecard(
    state: web::Data<AppState>,
    user: CurrentUser,
    payer: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let data = service::scorecard(
        &state.db,
        user.scope(),
        payer.into_inner(),
        state.scorecard_cache.clone(),
        state.page_caches.scorecards.clone(),
        present_scorecard,
    )
    .await?;
    render(&ScorecardPage {
        layout: user.layout(data.title.clone(), NAV),
        data,
    })
}

/// A scorecard as its page shows it (formatted once per generation, then cached).
pub fn present_scorecard(card: service::Scorecard) -> ScorecardData {
    let figures = &card.figures;
    let months: Vec<MonthRow> = figures
        .months
        .iter()
        .map(|m| {
            let f = &m.figures.payer;
            MonthRow {
                label: m.first_day.format("%b %Y").to_string(),
                decided: format::thousands(f.decided().max(0) as u64),
                rate: dash(f.denial_rate(), format::percent),
                median: dash(f.median_days(), days),
                denied: money(f.denied_cents),
                paid: money(f.paid_cents),
                others_rate: dash(m.figures.others.denial_rate(), format::percent),
            }
        })
        .collect();
    let bars: Vec<MonthBar> = figures
        .months
        .iter()
        .map(|m| MonthBar {
            label: m.first_day.format("%b %y").to_string(),
            payer: m.figures.payer.denial_rate(),
            others: m.figures.others.denial_rate(),
        })
        .collect();
    let alerts = card
        .alerts
        .iter()
        .map(|a| AlertRow {
            id: a.alert.id,
            title: a.alert.title.clone(),
            severity_label: a.alert.severity_label.clone(),
            severity_class: findings::severity_class(&a.alert.severity_label),
            status: a.status.clone(),
            has_claims: a.alert.drift_event_id.is_some(),
        })
        .collect();
    ScorecardData {
        title: format!("{} — payer scorecard", card.payer),
        chart_svg: denial_rate_chart(&card.payer, &bars),
        period_days: crate::domain::scorecard::PERIOD_DAYS,
        current_window: window(figures.periods.current),
        prior_window: window(figures.periods.prior),
        figures: figure_rows(&figures.current, &figures.prior),
        reasons: reason_rows(figures),
        denied_current: format::thousands(figures.denied_current.0.max(0) as u64),
        months,
        findings: card
            .findings
            .iter()
            .map(|e| findings::view(e, String::new()))
            .collect(),
        alerts,
        alerts_href: format!(
            "/portal/alerts?payer={}",
            crate::web::errors::url_encode(&card.payer)
        ),
        payer: card.payer,
    }
}

struct PayerRow {
    name: String,
    href: String,
    claims: String,
}

/// The payer list as kept between requests (`web::caches::pages`).
pub struct PayerList {
    payers: Vec<PayerRow>,
}

#[derive(Template)]
#[template(path = "payers/list.html")]
struct ListPage {
    layout: Layout,
    /// The template reads `payers` through `Deref`.
    data: Arc<PayerList>,
}

impl std::ops::Deref for ListPage {
    type Target = PayerList;
    fn deref(&self) -> &PayerList {
        &self.data
    }
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let data = service::payers(
        &state.db,
        user.scope(),
        state.page_caches.payers.clone(),
        present_payers,
    )
    .await?;
    render(&ListPage {
        layout: user.layout("Payers", NAV),
        data,
    })
}

/// The payer list as its page shows it (formatted once per rollup version).
pub fn present_payers(payers: Vec<(String, u64)>) -> PayerList {
    PayerList {
        payers: payers
            .into_iter()
            .map(|(name, n)| PayerRow {
                href: payer_href(&name),
                claims: format::thousands(n),
                name,
            })
            .collect(),
    }
}
