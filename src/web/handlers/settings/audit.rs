//! The audit trail (`/portal/settings/audit`, admin and owner): the tenant's events
//! newest first, filtered by action, actor (e-mail or user id) and a date range, and the
//! same selection as CSV (`/portal/settings/audit.csv`), streamed in chunks and itself
//! audited (`audit.exported`).

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use crate::db::repo::audit::{AuditEvent, AuditFilter};
use crate::db::repo::users;
use crate::services::audit_trail::{self, Actor, Members, Resolved, TrailExport, TrailPage};
use crate::web::auth::{Admin, Authorized};
use crate::web::errors::{AppError, url_encode};
use crate::web::http::query::page_number;
use crate::web::state::AppState;
use crate::web::view::csv_export::{AUDIT_COLUMNS, attachment, stream_keyset, write_audit_event};
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

const PER_PAGE: i64 = 50;
/// Rows per database round trip of the export.
const EXPORT_CHUNK: i64 = 1_000;
pub const EXPORTED_ACTION: &str = "audit.exported";

/// What the user typed, echoed back into the form and the pagination links.
#[derive(Debug, Clone, Default)]
struct Echo {
    action: String,
    actor: String,
    from: String,
    to: String,
}

impl Echo {
    fn query(&self) -> String {
        [
            ("action", &self.action),
            ("actor", &self.actor),
            ("from", &self.from),
            ("to", &self.to),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// Parsed query: the filter (actor still unresolved), the echo and the page.
struct Request {
    filter: AuditFilter,
    actor: Actor,
    echo: Echo,
    page: i64,
}

fn param<'a>(raw: &'a HashMap<String, String>, name: &str) -> &'a str {
    raw.get(name).map_or("", |v| v.trim())
}

fn parse(raw: &HashMap<String, String>) -> Result<Request, AppError> {
    let echo = Echo {
        action: param(raw, "action").to_string(),
        actor: param(raw, "actor").to_string(),
        from: param(raw, "from").to_string(),
        to: param(raw, "to").to_string(),
    };
    if echo.action.len() > 100 {
        return Err(AppError::BadRequest(
            "The parameter 'action' is too long.".to_string(),
        ));
    }
    let actor = if echo.actor.is_empty() {
        Actor::Any
    } else if let Ok(id) = echo.actor.parse::<i64>() {
        Actor::Id(id)
    } else if echo.actor.contains('@') && echo.actor.len() <= 254 {
        Actor::Email(users::normalize_email(&echo.actor))
    } else {
        return Err(AppError::BadRequest(
            "The parameter 'actor' is not valid: enter a member's e-mail address or user id."
                .to_string(),
        ));
    };
    let filter =
        AuditFilter::from_query(Some(&echo.action), None, Some(&echo.from), Some(&echo.to))
            .map_err(|msg| {
                AppError::BadRequest(format!("{msg} Use the date picker or YYYY-MM-DD."))
            })?;
    let page = page_number(Some(param(raw, "page")))?;
    Ok(Request {
        filter,
        actor,
        echo,
        page,
    })
}

fn actor_label(members: &Members, id: Option<i64>) -> String {
    match id {
        None => "PayerWatch (system)".to_string(),
        Some(id) => members
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("user #{id} (removed)")),
    }
}

struct EventRow {
    date: String,
    time: String,
    actor: String,
    action: String,
    target: String,
    fields: Vec<String>,
    address: String,
    request_id: String,
}

fn row(e: &AuditEvent, members: &Members) -> EventRow {
    let target = match (&e.target_type, &e.target_id) {
        (Some(t), Some(id)) => format!("{t} #{id}"),
        (Some(t), None) => t.clone(),
        (None, Some(id)) => id.clone(),
        (None, None) => String::new(),
    };
    EventRow {
        date: e.occurred_at.format("%Y-%m-%d").to_string(),
        time: e.occurred_at.format("%H:%M:%S UTC").to_string(),
        actor: actor_label(members, e.actor_user_id),
        action: e.action.clone(),
        target,
        fields: e
            .changed_fields
            .as_deref()
            .unwrap_or("")
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_string)
            .collect(),
        address: e.client_addr.clone().unwrap_or_default(),
        request_id: e.request_id.clone().unwrap_or_default(),
    }
}

#[derive(Template)]
#[template(path = "settings/audit.html")]
struct AuditPage {
    layout: Layout,
    events: Vec<EventRow>,
    actions: Vec<String>,
    members: Vec<String>,
    echo: Echo,
    query: String,
    note: Option<String>,
    total: i64,
    page: i64,
    total_pages: i64,
    has_prev: bool,
    has_next: bool,
}

pub async fn page(
    state: web::Data<AppState>,
    user: Authorized<Admin>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let Request {
        filter: f,
        actor,
        echo,
        page,
    } = parse(&query)?;
    let TrailPage {
        members,
        resolved,
        actions,
        events,
    } = audit_trail::page(&state.db, user.scope(), f, actor, page, PER_PAGE).await?;
    let note = (resolved == Resolved::NoSuchMember).then(|| {
        format!(
            "No member of your organisation has the e-mail address {}.",
            echo.actor
        )
    });
    let mut emails: Vec<String> = members.values().cloned().collect();
    emails.sort();
    let (items, page, total, total_pages, has_prev, has_next) = match events {
        Some(p) => (
            p.items.iter().map(|e| row(e, &members)).collect(),
            p.page,
            p.total,
            p.total_pages(),
            p.has_prev(),
            p.has_next(),
        ),
        None => (Vec::new(), 1, 0, 1, false, false),
    };
    render(&AuditPage {
        layout: user.layout("Audit trail", "/portal/settings/audit"),
        events: items,
        actions,
        members: emails,
        query: echo.query(),
        echo,
        note,
        total,
        page,
        total_pages,
        has_prev,
        has_next,
    })
}

pub async fn export(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: Authorized<Admin>,
    query: web::Query<HashMap<String, String>>,
) -> Result<HttpResponse, AppError> {
    let Request { filter, actor, .. } = parse(&query)?;
    let scope = user.scope();
    let (ctx, entry) = user.audit(&req, &state, EXPORTED_ACTION, &[]);
    let TrailExport {
        filter,
        members,
        nothing_matches,
    } = audit_trail::start_export(&state.db, scope, filter, actor, ctx, entry).await?;
    let db = state.db.clone();
    let stream = stream_keyset(
        &AUDIT_COLUMNS,
        EXPORT_CHUNK,
        move |before| {
            let (db, filter) = (db.clone(), Arc::clone(&filter));
            async move {
                if nothing_matches {
                    return Ok(Vec::new());
                }
                audit_trail::export_batch(&db, scope, filter, before, EXPORT_CHUNK).await
            }
        },
        |e: &AuditEvent| e.id,
        move |out, e| {
            let actor = e.actor_user_id.and_then(|id| members.get(&id));
            write_audit_event(out, e, actor.map(String::as_str))
        },
    );
    let filename = format!("audit-trail-{}.csv", chrono::Utc::now().format("%Y-%m-%d"));
    Ok(attachment(&filename)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(stream))
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
    fn actor_is_an_id_or_an_email_and_dates_are_checked() {
        let r = parse(&raw(&[("actor", " 42 ")])).expect("id");
        assert!(matches!(r.actor, Actor::Id(42)));
        let r = parse(&raw(&[("actor", "Ann@Clinic.example")])).expect("e-mail");
        assert!(matches!(r.actor, Actor::Email(ref e) if e == "ann@clinic.example"));
        assert!(parse(&raw(&[("actor", "ann")])).is_err());
        let err = parse(&raw(&[("from", "yesterday")]))
            .err()
            .expect("bad date");
        assert!(err.to_string().contains("'from'"), "{err}");
        assert!(parse(&raw(&[("page", "0")])).is_err());
        let r = parse(&raw(&[("action", "login.success"), ("to", "2026-11-24")])).expect("ok");
        assert_eq!(r.echo.query(), "action=login.success&to=2026-11-24");
    }
}
