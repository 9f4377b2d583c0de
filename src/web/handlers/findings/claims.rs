//! The claims behind a finding or an alert (SPEC §10): `/portal/findings/{id}`,
//! `…/claims`, `…/claims.csv` and `/portal/alerts/{id}/claims`, `…/claims.csv`. Viewers
//! see the pages; the CSV (a rework or appeal list) is for analysts and audited.

use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::view::{self as findings, EventView, FilterError};
use crate::db::repo::claims::ClaimRecord;
use crate::domain::carc;
use crate::domain::drilldown::{ClaimSelection, ClaimSort};
use crate::domain::format;
use crate::domain::roles::Role;
use crate::services::drilldown::{self as service, EXPORT_BATCH, Listing, Source};
use crate::web::auth::{self, CurrentUser};
use crate::web::errors::AppError;
use crate::web::http::query::page_number;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render_with_status;

const PER_PAGE: i64 = 50;

struct ClaimRow {
    window: &'static str,
    cpt: String,
    cpt_group: String,
    submitted: String,
    decided: String,
    days: i32,
    outcome: String,
    amount: String,
    reason_code: String,
    reason_words: String,
    /// The claim's remark codes (RARC, 835 files only) with their words, if we have any.
    remarks: Vec<(String, &'static str)>,
}

fn claim_row(selection: &ClaimSelection, c: &ClaimRecord) -> ClaimRow {
    let bucket = if selection.by_submitted {
        c.submitted_date
    } else {
        c.decided_date
    };
    let code = c.denial_reason_code.clone().unwrap_or_default();
    ClaimRow {
        window: selection.window_of(bucket),
        cpt: c.cpt.clone(),
        cpt_group: c.cpt_group.clone(),
        submitted: c.submitted_date.to_string(),
        decided: c.decided_date.to_string(),
        days: c.decision_days,
        outcome: c.outcome.clone(),
        amount: c
            .allowed_cents
            .map(|cents| {
                format!(
                    "${}.{:02}",
                    format::thousands(cents.unsigned_abs() / 100),
                    cents.unsigned_abs() % 100
                )
            })
            .unwrap_or_default(),
        reason_words: carc::describe(&code)
            .map(str::to_string)
            .or_else(|| c.denial_reason_text.clone())
            .unwrap_or_default(),
        reason_code: code,
        remarks: c
            .remark_codes
            .as_deref()
            .map(carc::describe_remarks)
            .unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "findings/claims.html")]
struct ClaimsPage {
    layout: Layout,
    heading: String,
    finding: EventView,
    /// Where this list lives (`/portal/alerts/7/claims`), for sort links and the CSV.
    base: String,
    csv_href: String,
    back: (String, &'static str),
    claims: Vec<ClaimRow>,
    total: String,
    sort: &'static str,
    dir: &'static str,
    sorts: [(&'static str, &'static str); 6],
    page: i64,
    total_pages: i64,
    has_prev: bool,
    has_next: bool,
    can_export: bool,
    /// The page number as typed (kept in the form beside a refused one).
    page_input: String,
    /// A refused `sort`, `dir` or `page`: the field and the sentence beside it (400).
    invalid: Option<FilterError>,
}

impl ClaimsPage {
    /// The message to show beside `field`, if the refused parameter is that field.
    fn error_for(&self, field: &str) -> Option<&str> {
        FilterError::beside(self.invalid.as_ref(), field)
    }
}

fn listing(raw: &HashMap<String, String>, per_page: i64) -> Result<Listing, FilterError> {
    let sort = match raw.get("sort").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => ClaimSort::default(),
        Some(s) => ClaimSort::parse(s).ok_or_else(|| {
            FilterError::bad(
                "sort",
                "one of decided, submitted, days, amount, cpt, reason",
            )
        })?,
    };
    let descending = match raw.get("dir").map(|s| s.trim()) {
        None | Some("") | Some("desc") => true,
        Some("asc") => false,
        Some(_) => return Err(FilterError::bad("dir", "asc or desc")),
    };
    Ok(Listing {
        sort,
        descending,
        page: page_number(raw.get("page").map(String::as_str))
            .map_err(|_| FilterError::bad("page", "a page number from 1"))?,
        per_page,
    })
}

/// The listing as typed, beside a refused parameter: each valid value kept, the rest
/// at their defaults.
fn kept_listing(raw: &HashMap<String, String>, per_page: i64) -> Listing {
    let value = |name: &str| raw.get(name).map(|s| s.trim()).unwrap_or_default();
    Listing {
        sort: ClaimSort::parse(value("sort")).unwrap_or_default(),
        descending: value("dir") != "asc",
        page: 1,
        per_page,
    }
}

fn heading(f: &EventView) -> String {
    let subject = if f.group.is_empty() {
        f.payer.clone()
    } else {
        format!("{} × {}", f.payer, f.group)
    };
    format!("Claims behind: {subject}, {} {}", f.kind_label, f.direction)
}

async fn page(
    state: web::Data<AppState>,
    user: CurrentUser,
    source: Source,
    raw: HashMap<String, String>,
) -> Result<HttpResponse, AppError> {
    // SPEC §10 (as the drift feed): a refused sort, direction or page answers 400 on this
    // page itself, the message beside its field and the other values kept; no claims are
    // listed until it is fixed.
    let (listing, invalid) = match listing(&raw, PER_PAGE) {
        Ok(listing) => (listing, None),
        Err(e) => (kept_listing(&raw, PER_PAGE), Some(e)),
    };
    let d = if invalid.is_none() {
        service::claims(&state.db, user.scope(), source, listing).await?
    } else {
        let (finding, selection) = service::selection(&state.db, user.scope(), source).await?;
        service::Drilldown {
            finding,
            selection,
            claims: crate::db::repo::Page {
                items: Vec::new(),
                page: 1,
                per_page: PER_PAGE,
                total: 0,
            },
        }
    };
    let (base, back, nav) = match source {
        Source::Finding(id) => (
            format!("/portal/findings/{id}/claims"),
            ("/portal/drift".to_string(), "All findings"),
            "/portal/drift",
        ),
        Source::Alert(id) => (
            format!("/portal/alerts/{id}/claims"),
            (format!("/portal/alerts/{id}"), "Back to the alert"),
            "/portal/alerts",
        ),
    };
    let finding = findings::view(&d.finding, String::new());
    let title = heading(&finding);
    let status = if invalid.is_some() {
        actix_web::http::StatusCode::BAD_REQUEST
    } else {
        actix_web::http::StatusCode::OK
    };
    render_with_status(
        status,
        &ClaimsPage {
            layout: user.layout(title.clone(), nav),
            heading: title,
            finding,
            csv_href: format!("{base}.csv"),
            base,
            back,
            claims: d
                .claims
                .items
                .iter()
                .map(|c| claim_row(&d.selection, c))
                .collect(),
            total: format::thousands(d.claims.total.unsigned_abs()),
            sort: listing.sort.as_str(),
            dir: if listing.descending { "desc" } else { "asc" },
            sorts: [
                ("decided", "Decided"),
                ("submitted", "Submitted"),
                ("days", "Days"),
                ("amount", "Allowed"),
                ("cpt", "CPT"),
                ("reason", "Reason"),
            ],
            page: d.claims.page,
            total_pages: d.claims.total_pages(),
            has_prev: d.claims.has_prev(),
            has_next: d.claims.has_next(),
            can_export: user.role.allows(Role::Analyst),
            page_input: raw
                .get("page")
                .map(|p| p.trim().to_string())
                .unwrap_or_default(),
            invalid,
        },
    )
}

const CSV_COLUMNS: [&str; 12] = [
    "claim_id",
    "window",
    "payer",
    "cpt",
    "cpt_group",
    "submitted_date",
    "decided_date",
    "decision_days",
    "outcome",
    "allowed_amount",
    "denial_reason_code",
    "denial_reason",
];

/// The claims behind a finding as CSV (analysts; audited): every claim, in the page's
/// order, streamed one keyset batch of [`EXPORT_BATCH`] per chunk so memory stays flat
/// whatever the finding's size.
async fn csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    source: Source,
    raw: HashMap<String, String>,
    file_name: String,
) -> Result<HttpResponse, AppError> {
    use crate::web::view::csv_export::{attachment, stream_keyset};
    let listing = listing(&raw, EXPORT_BATCH)?;
    let scope = user.scope();
    // Not found (another tenant, an alert without a finding) before the download starts.
    let (ctx, entry) = user.audit(&req, &state, "export.claims_csv", &[]);
    let selection = service::start_export(&state.db, scope, source, ctx, entry).await?;

    let db = state.db.clone();
    let selection = std::sync::Arc::new(selection);
    let rows_of = selection.clone();
    let body = stream_keyset(
        &CSV_COLUMNS,
        EXPORT_BATCH,
        move |after| {
            let (db, selection) = (db.clone(), selection.clone());
            async move {
                service::export_batch(
                    &db,
                    scope,
                    selection,
                    listing.sort,
                    listing.descending,
                    after,
                    EXPORT_BATCH,
                )
                .await
            }
        },
        ClaimRecord::clone,
        move |export, c| csv_row(export, &rows_of, c),
    );
    Ok(attachment(&file_name).streaming(body))
}

/// One claim as a row of the export (`CSV_COLUMNS`).
fn csv_row(
    export: &mut crate::web::view::csv_export::CsvExport<Vec<u8>>,
    selection: &ClaimSelection,
    c: &ClaimRecord,
) -> csv::Result<()> {
    use crate::web::view::csv_export::Cell;
    let row = claim_row(selection, c);
    export.row([
        Cell::Int(c.id),
        Cell::Text(row.window),
        Cell::Text(&c.payer),
        Cell::Text(&c.cpt),
        Cell::Text(&c.cpt_group),
        Cell::Text(&row.submitted),
        Cell::Text(&row.decided),
        Cell::Int(i64::from(c.decision_days)),
        Cell::Text(&c.outcome),
        c.allowed_cents
            .map_or(Cell::Empty, |cents| Cell::Float(cents as f64 / 100.0)),
        Cell::Text(&row.reason_code),
        Cell::Text(&row.reason_words),
    ])
}

pub async fn finding(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    page(
        state,
        user,
        Source::Finding(id.into_inner()),
        query.into_inner(),
    )
    .await
}

pub async fn alert(
    state: web::Data<AppState>,
    user: CurrentUser,
    id: web::Path<i64>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    page(
        state,
        user,
        Source::Alert(id.into_inner()),
        query.into_inner(),
    )
    .await
}

pub async fn finding_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    id: web::Path<i64>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let name = format!("finding-{id}-claims.csv");
    csv(
        req,
        state,
        user,
        Source::Finding(id),
        query.into_inner(),
        name,
    )
    .await
}

pub async fn alert_csv(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Analyst>,
    id: web::Path<i64>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let name = format!("alert-{id}-claims.csv");
    csv(
        req,
        state,
        user,
        Source::Alert(id),
        query.into_inner(),
        name,
    )
    .await
}
