//! The findings pages: DriftWatch feed (`/portal/drift`), DenialScope (`/portal/denials`)
//! and DelayGuard (`/portal/delays`) — filters, pagination, evidence and charts.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;

use super::view::{self as findings, EventView, FilterError, Filters, PER_PAGE};
use crate::db::repo::analytics::{EventFilter, ReportRun};
use crate::domain::analytics::{FindingKind, Product, ValueUnit};
use crate::services::findings as service;
use crate::web::auth::CurrentUser;
use crate::web::caches::facets::{EventsPage, FeedCaches};
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render_with_status;

struct PageSpec {
    product: Product,
    path: &'static str,
    title: &'static str,
    intro: &'static str,
    group_label: &'static str,
}

const DRIFT: PageSpec = PageSpec {
    product: Product::DriftWatch,
    path: "/portal/drift",
    title: "Drift",
    intro: "Denial rates and decision times per payer × CPT group: the last 14 days against the 90 days before.",
    group_label: "CPT group",
};
const DENIALS: PageSpec = PageSpec {
    product: Product::DenialScope,
    path: "/portal/denials",
    title: "Denials",
    intro: "Denial reasons per payer: each reason's share of the payer's denials and its denials per day, the last 14 days against the 56 days before (legacy thresholds: 7 against 21).",
    group_label: "Reason",
};
const DELAYS: PageSpec = PageSpec {
    product: Product::DelayGuard,
    path: "/portal/delays",
    title: "Delays",
    intro: "Days from submission to decision per payer: the last 14 days against the 60 days before, and whether the daily median rose steadily over the last 28 days.",
    group_label: "",
};

#[derive(Template)]
#[template(path = "findings/list.html")]
struct FindingsPage {
    layout: Layout,
    title: &'static str,
    intro: &'static str,
    path: &'static str,
    group_label: &'static str,
    kinds: &'static [FindingKind],
    payers: Vec<String>,
    groups: Vec<String>,
    events: Arc<Vec<EventView>>,
    filters: Filters,
    query: String,
    page: i64,
    total_pages: i64,
    total: i64,
    has_prev: bool,
    has_next: bool,
    last_run: Option<RunLine>,
    can_export: bool,
    /// A refused filter: which field, and the sentence shown beside it (status 400).
    invalid: Option<FilterError>,
}

impl FindingsPage {
    /// The message to show beside `field`, if the refused filter is that field.
    fn error_for(&self, field: &str) -> Option<&str> {
        FilterError::beside(self.invalid.as_ref(), field)
    }
}

pub struct RunLine {
    pub status: String,
    pub when: String,
    pub as_of: String,
    /// "1,234,567" claims the run's windows covered; empty when not recorded.
    pub claims_covered: String,
    pub mode: String,
    pub groups: i64,
    pub insufficient: i64,
    pub error: Option<String>,
}

fn run_line(run: &ReportRun) -> RunLine {
    RunLine {
        status: run.status.clone(),
        when: run.started_at.format("%Y-%m-%d %H:%M UTC").to_string(),
        // `as_of` is the exclusive end of the current window (the day after the latest
        // decision); people read the last day with data, as the cards show it.
        as_of: run.as_of.map_or_else(
            || "no data yet".to_string(),
            |d| d.pred_opt().unwrap_or(d).to_string(),
        ),
        claims_covered: run.claims_covered.map_or_else(String::new, |n| {
            crate::domain::format::thousands(u64::try_from(n).unwrap_or(0))
        }),
        mode: run.mode.clone(),
        groups: run.groups_considered,
        insufficient: run.groups_insufficient,
        error: run.error_message.clone(),
    }
}

async fn findings_page(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: HashMap<String, String>,
    spec: &'static PageSpec,
) -> Result<HttpResponse, AppError> {
    // SPEC §10: a refused filter answers 400 on the page itself, the form keeping what was
    // typed and the message beside the field; no findings are listed until it is fixed.
    let (filters, invalid) = match findings::parse_filters(query.clone(), spec.product) {
        Ok(filters) => (filters, None),
        Err(e) => (
            Filters {
                filter: EventFilter {
                    products: vec![spec.product],
                    ..EventFilter::default()
                },
                page: 1,
                raw: query,
            },
            Some(e),
        ),
    };
    let feed = service::feed(
        &state.db,
        user.scope(),
        service::FeedQuery {
            product: spec.product,
            filter: filters.filter.clone(),
            page: filters.page,
            per_page: PER_PAGE,
            key: filters.query_string(),
            list: invalid.is_none(),
        },
        Arc::new(FeedCaches {
            facets: state.facet_cache.clone(),
            charts: state.chart_cache.clone(),
        }),
    )
    .await?;
    let facets = feed.facets;
    // Beside a refused filter nothing is listed.
    let events = feed.events.unwrap_or_else(|| {
        Arc::new(EventsPage {
            events: Arc::new(Vec::new()),
            page: 1,
            total_pages: 1,
            total: 0,
            has_prev: false,
            has_next: false,
        })
    });
    let last_run = facets.last_run.as_ref().map(run_line);
    let status = if invalid.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render_with_status(
        status,
        &FindingsPage {
            layout: user.layout(spec.title, spec.path),
            title: spec.title,
            intro: spec.intro,
            path: spec.path,
            group_label: spec.group_label,
            kinds: spec.product.kinds(),
            payers: facets.payers.clone(),
            groups: facets.groups.clone(),
            query: filters.query_string(),
            page: events.page,
            total_pages: events.total_pages,
            total: events.total,
            has_prev: events.has_prev,
            has_next: events.has_next,
            events: Arc::clone(&events.events),
            filters,
            last_run,
            can_export: user.role.allows(crate::domain::roles::Role::Analyst),
            invalid,
        },
    )
}

pub async fn drift(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    findings_page(state, user, query.into_inner(), &DRIFT).await
}

pub async fn denials(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    findings_page(state, user, query.into_inner(), &DENIALS).await
}

pub async fn delays(
    state: web::Data<AppState>,
    user: CurrentUser,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    findings_page(state, user, query.into_inner(), &DELAYS).await
}

/// The columns of ANALYTICS.md § Exports.
/// ANALYTICS.md § Exports: rates in percent to 0.1 (days to 0.1 day), p and q to 2
/// significant digits, money a month in whole dollars (empty when unknown), and each
/// window as the pages show it: its first and its last day (the stored ends are
/// exclusive, and printing them made every window end a day late).
pub const DRIFT_CSV_COLUMNS: [&str; 20] = [
    "payer",
    "cpt_group",
    "kind",
    "direction",
    "baseline_value",
    "current_value",
    "delta",
    "ci_low",
    "ci_high",
    "p_value",
    "q_value",
    "severity_label",
    "dollars_per_month",
    "baseline_n",
    "current_n",
    "baseline_start",
    "baseline_last_day",
    "current_start",
    "current_last_day",
    "mode",
];

/// `GET /portal/{drift,denials,delays}.csv` (analyst): a findings page's events with the
/// same filters; the path picks the product.
pub async fn export_csv(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    user: crate::web::auth::Authorized<crate::web::auth::Analyst>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let spec = match req.path() {
        "/portal/denials.csv" => &DENIALS,
        "/portal/delays.csv" => &DELAYS,
        _ => &DRIFT,
    };
    findings_csv(req, state, user, query.into_inner(), spec).await
}

/// A findings page's events as CSV (ANALYTICS.md § Exports columns; `cpt_group` holds
/// the reason for DenialScope and is empty for DelayGuard).
async fn findings_csv(
    req: actix_web::HttpRequest,
    state: web::Data<AppState>,
    user: crate::web::auth::Authorized<crate::web::auth::Analyst>,
    query: HashMap<String, String>,
    spec: &'static PageSpec,
) -> Result<HttpResponse, AppError> {
    use crate::web::view::csv_export::{Cell, CsvExport, attachment};
    let filters = findings::parse_filters(query, spec.product)?;
    let (action, file) = match spec.product {
        Product::DriftWatch => ("export.drift_csv", "drift.csv"),
        Product::DenialScope => ("export.denials_csv", "denials.csv"),
        Product::DelayGuard => ("export.delays_csv", "delays.csv"),
    };
    let (ctx, entry) = user.audit(&req, &state, action, &[]);
    let events = service::export(&state.db, user.scope(), filters.filter, ctx, entry).await?;
    let mut export = CsvExport::new(Vec::new());
    export.header(&DRIFT_CSV_COLUMNS)?;
    use crate::domain::format::{round_to, significant};
    for e in &events {
        let last_day = |end: chrono::NaiveDate| end.pred_opt().unwrap_or(end);
        let dates = [
            e.baseline_start,
            last_day(e.baseline_end),
            e.current_start,
            last_day(e.current_end),
        ]
        .map(|d| d.to_string());
        let scale = ValueUnit::of_stored_kind(&e.kind).export_scale();
        let value = |v: f64| Cell::Float(round_to(v * scale, 1));
        let opt =
            |v: Option<f64>, f: &dyn Fn(f64) -> f64| v.map_or(Cell::Empty, |v| Cell::Float(f(v)));
        let p = |v: f64| significant(v, 2);
        export.row([
            Cell::Text(&e.payer),
            Cell::Text(&e.cpt_group),
            Cell::Text(&e.kind),
            Cell::Text(&e.direction),
            value(e.baseline_value),
            value(e.current_value),
            // The change as the cards show it: the rate difference, or current − baseline
            // days (the robust estimate is the card's second line, not exported).
            value(if scale == 100.0 {
                e.delta
            } else {
                e.current_value - e.baseline_value
            }),
            opt(e.ci_low, &|v| round_to(v * scale, 1)),
            opt(e.ci_high, &|v| round_to(v * scale, 1)),
            opt(e.p_value, &p),
            opt(e.q_value, &p),
            Cell::Text(&e.severity_label),
            opt(e.dollars_per_month, &f64::round),
            Cell::Int(e.baseline_n),
            Cell::Int(e.current_n),
            Cell::Text(&dates[0]),
            Cell::Text(&dates[1]),
            Cell::Text(&dates[2]),
            Cell::Text(&dates[3]),
            Cell::Text(&e.mode),
        ])?;
    }
    let body = export
        .finish()
        .map_err(|e| AppError::Internal(anyhow::Error::new(e)))?;
    Ok(attachment(file).body(body))
}
