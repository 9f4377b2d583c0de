//! `/portal/settings/rules`: alert rules. Everyone reads them; admins create, edit and
//! enable/disable. Rules are never deleted (alerts keep pointing at the rule that raised
//! them), only disabled.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::DbError;
use crate::db::repo::alerts as repo;
use crate::db::repo::channels::{self as channel_repo, Channel};
use crate::domain::alerts::{Comparison, Metric};
use crate::domain::analytics::{Direction, Product};
use crate::domain::phi;
use crate::domain::roles::Role;
use crate::web::auth::{self, CurrentUser};
use crate::web::errors::AppError;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render;

struct RuleRow {
    id: i64,
    name: String,
    scope: String,
    condition: String,
    enabled: bool,
    channels: String,
    channel_choice: String,
}

#[derive(Template)]
#[template(path = "settings/rules.html")]
struct RulesPage {
    layout: Layout,
    rules: Vec<RuleRow>,
    can_edit: bool,
    channel_options: Vec<(String, String)>,
}

fn describe_scope(r: &repo::AlertRule) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &r.product {
        parts.push(crate::domain::alerts::source_label(p).to_string());
    }
    if let Some(k) = &r.kind {
        parts.push(k.replace('_', " "));
    }
    if let Some(p) = &r.payer {
        parts.push(format!("payer {p}"));
    }
    if let Some(g) = &r.cpt_group {
        parts.push(format!("group {g}"));
    }
    if let Some(d) = &r.direction {
        parts.push(format!("{d} only"));
    }
    if parts.is_empty() {
        "every finding".to_string()
    } else {
        parts.join(", ")
    }
}

/// How a rule's channel setting reads: all channels, none, or the named ones.
fn describe_channels(r: &repo::AlertRule, channels: &[Channel]) -> (String, String) {
    match r.channel_ids.trim() {
        "" => ("every enabled channel".into(), "all".into()),
        "none" => ("alert page only".into(), "none".into()),
        list => {
            let names: Vec<String> = list
                .split(',')
                .filter_map(|id| id.trim().parse::<i64>().ok())
                .map(|id| {
                    channels
                        .iter()
                        .find(|c| c.id == id)
                        .map_or_else(|| format!("channel {id}"), |c| c.name.clone())
                })
                .collect();
            (names.join(", "), list.to_string())
        }
    }
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let scope = user.scope();
    let (rules, channels) = state
        .db
        .write(move |conn| {
            let rules = repo::ensure_default_rules(conn, &scope)?;
            let channels = channel_repo::list_channels(conn, &scope)?;
            Ok::<_, DbError>((rules, channels))
        })
        .await?;
    let mut channel_options = vec![
        ("all".to_string(), "Every enabled channel".to_string()),
        ("none".to_string(), "None (alert page only)".to_string()),
    ];
    channel_options.extend(
        channels
            .iter()
            .map(|c| (c.id.to_string(), format!("Only {} ({})", c.name, c.kind))),
    );
    render(&RulesPage {
        layout: user.layout("Alert rules", "/portal/settings/rules"),
        rules: rules
            .iter()
            .map(|r| {
                let (channels, channel_choice) = describe_channels(r, &channels);
                RuleRow {
                    id: r.id,
                    name: r.name.clone(),
                    scope: describe_scope(r),
                    condition: format!(
                        "{} {} {}",
                        r.metric.replace('_', " "),
                        r.comparison,
                        r.threshold
                    ),
                    enabled: r.enabled,
                    channels,
                    channel_choice,
                }
            })
            .collect(),
        can_edit: user.role.allows(Role::Admin),
        channel_options,
    })
}

#[derive(Debug, Deserialize)]
pub struct RuleForm {
    action: String,
    rule_id: Option<String>,
    name: Option<String>,
    product: Option<String>,
    kind: Option<String>,
    payer: Option<String>,
    cpt_group: Option<String>,
    direction: Option<String>,
    metric: Option<String>,
    comparison: Option<String>,
    threshold: Option<String>,
    channels: Option<String>,
}

fn optional(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn back() -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, "/portal/settings/rules"))
        .finish()
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Admin>,
    form: web::Form<RuleForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let scope = user.scope();
    match form.action.as_str() {
        "create" => {
            let name = optional(&form.name)
                .ok_or_else(|| AppError::BadRequest("name is required".into()))?;
            for (field, value) in [
                ("name", Some(name.clone())),
                ("payer", optional(&form.payer)),
                ("cpt_group", optional(&form.cpt_group)),
            ] {
                if value.as_deref().is_some_and(phi::contains_phi) {
                    auth::set_flash(
                        user.session(),
                        "error",
                        format!(
                            "The {field} looks like it contains patient information (PHI); the rule was not saved."
                        ),
                    );
                    return Ok(back());
                }
            }
            let metric =
                Metric::parse(form.metric.as_deref().unwrap_or("severity")).ok_or_else(|| {
                    AppError::BadRequest("metric must be severity, rate_delta or days_delta".into())
                })?;
            let comparison = Comparison::parse(form.comparison.as_deref().unwrap_or("gte"))
                .ok_or_else(|| {
                    AppError::BadRequest("comparison must be gt, gte, lt, lte or eq".into())
                })?;
            let threshold: f64 = form
                .threshold
                .as_deref()
                .unwrap_or("0.7")
                .trim()
                .parse()
                .ok()
                .filter(|t: &f64| t.is_finite())
                .ok_or_else(|| AppError::BadRequest("threshold must be a number".into()))?;
            // Stored by their canonical names, so a rule typed as "drift" matches findings.
            let product = match optional(&form.product) {
                None => None,
                Some(p) if p == crate::domain::alerts::DATA_QUALITY => Some(p),
                Some(p) => Some(
                    p.parse::<Product>()
                        .map(|p| p.as_str().to_string())
                        .map_err(|_| {
                            AppError::BadRequest(
                            "product must be drift_watch, denial_scope, delay_guard or data_quality"
                                .into(),
                        )
                        })?,
                ),
            };
            let direction = optional(&form.direction)
                .map(|d| d.parse::<Direction>())
                .transpose()
                .map_err(|_| AppError::BadRequest("direction must be worse or better".into()))?
                .map(|d| d.as_str().to_string());
            let new = repo::NewRule {
                name,
                product,
                kind: optional(&form.kind),
                payer: optional(&form.payer),
                cpt_group: optional(&form.cpt_group),
                direction,
                metric: metric.as_str().to_string(),
                comparison: comparison.as_str().to_string(),
                threshold,
                channel_ids: parse_channels(form.channels.as_deref())?,
            };
            let (ctx, entry) = user.audit(
                &req,
                &state,
                "rule.created",
                &["name", "scope", "metric", "comparison", "threshold"],
            );
            state
                .db
                .write_audited(
                    ctx,
                    move |id: &i64| entry.target("alert_rule", id),
                    move |conn| {
                        // Only this tenant's channels can be named, as for "channels"
                        // (review 2026-12, row 14): another tenant's id answers 404.
                        if let Ok(channel) = new.channel_ids.parse::<i64>() {
                            channel_repo::find_channel(conn, &scope, channel)?;
                        }
                        repo::insert_rule(conn, &scope, &new)
                    },
                )
                .await?;
            auth::set_flash(
                user.session(),
                "success",
                "The rule was created; it applies to findings from the next run on.",
            );
        }
        "enable" | "disable" => {
            let id: i64 = crate::web::handlers::form_id(&form.rule_id, "rule_id")?;
            let enabled = form.action == "enable";
            let (ctx, entry) = user.audit(&req, &state, "rule.changed", &["enabled"]);
            state
                .db
                .write_audited(ctx, entry.target("alert_rule", id), move |conn| {
                    repo::set_rule_enabled(conn, &scope, id, enabled)
                })
                .await?;
            auth::set_flash(
                user.session(),
                "success",
                if enabled {
                    "Rule enabled."
                } else {
                    "Rule disabled; its alerts stay in the history."
                },
            );
        }
        "channels" => {
            let id: i64 = crate::web::handlers::form_id(&form.rule_id, "rule_id")?;
            let channel_ids = parse_channels(form.channels.as_deref())?;
            let (ctx, entry) = user.audit(&req, &state, "rule.changed", &["channels"]);
            state
                .db
                .write_audited(ctx, entry.target("alert_rule", id), move |conn| {
                    if let Ok(id) = channel_ids.parse::<i64>() {
                        // Only this tenant's channels can be named.
                        channel_repo::find_channel(conn, &scope, id)?;
                    }
                    repo::set_rule_channels(conn, &scope, id, &channel_ids)
                })
                .await?;
            auth::set_flash(user.session(), "success", "The rule's channels were saved.");
        }
        _ => {
            return Err(AppError::BadRequest(
                "action must be create, enable, disable or channels".into(),
            ));
        }
    }
    Ok(back())
}

/// The form's channel choice → the stored form (`""` all, `"none"`, or one channel id).
fn parse_channels(choice: Option<&str>) -> Result<String, AppError> {
    match choice.map(str::trim).unwrap_or("all") {
        "all" | "" => Ok(String::new()),
        "none" => Ok("none".to_string()),
        id => id
            .parse::<i64>()
            .map(|id| id.to_string())
            .map_err(|_| AppError::BadRequest("channels must be all, none or a channel id".into())),
    }
}
