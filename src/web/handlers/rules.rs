//! `/portal/settings/rules`: alert rules. Everyone reads them; admins create, edit and
//! enable/disable. Rules are never deleted (alerts keep pointing at the rule that raised
//! them), only disabled.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::repo::alerts as repo;
use crate::domain::alerts::{Comparison, Metric};
use crate::domain::phi;
use crate::domain::roles::Role;
use crate::web::auth::{self, CurrentUser, audit_user_action};
use crate::web::errors::AppError;
use crate::web::layout::Layout;
use crate::web::render::render;
use crate::web::state::AppState;

struct RuleRow {
    id: i64,
    name: String,
    scope: String,
    condition: String,
    enabled: bool,
}

#[derive(Template)]
#[template(path = "settings/rules.html")]
struct RulesPage {
    layout: Layout,
    rules: Vec<RuleRow>,
    can_edit: bool,
}

fn describe_scope(r: &repo::AlertRule) -> String {
    let mut parts = Vec::new();
    if let Some(p) = &r.product {
        parts.push(crate::reports::product_label(p).to_string());
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

pub async fn list(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let scope = user.scope();
    let rules = state
        .db
        .write(move |conn| repo::ensure_default_rules(conn, &scope))
        .await?;
    render(&RulesPage {
        layout: user.layout("Alert rules", "/portal/settings/rules"),
        rules: rules
            .iter()
            .map(|r| RuleRow {
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
            })
            .collect(),
        can_edit: user.role.allows(Role::Admin),
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
            let product = optional(&form.product);
            if product
                .as_deref()
                .is_some_and(|p| crate::reports::parse_product(p).is_none())
            {
                return Err(AppError::BadRequest(
                    "product must be drift_watch, denial_scope or delay_guard".into(),
                ));
            }
            let direction = optional(&form.direction);
            if direction
                .as_deref()
                .is_some_and(|d| d != "worse" && d != "better")
            {
                return Err(AppError::BadRequest(
                    "direction must be worse or better".into(),
                ));
            }
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
            };
            let id = state
                .db
                .write(move |conn| repo::insert_rule(conn, &scope, &new))
                .await?;
            audit_user_action(
                &state,
                &req,
                &user,
                "rule.created",
                Some(("alert_rule", id.to_string())),
                &["name", "scope", "metric", "comparison", "threshold"],
            )
            .await?;
            auth::set_flash(
                user.session(),
                "success",
                "The rule was created; it applies to findings from the next run on.",
            );
        }
        "enable" | "disable" => {
            let id: i64 = form
                .rule_id
                .as_deref()
                .unwrap_or("")
                .trim()
                .parse()
                .map_err(|_| AppError::BadRequest("rule_id must be a number".into()))?;
            let enabled = form.action == "enable";
            state
                .db
                .write(move |conn| repo::set_rule_enabled(conn, &scope, id, enabled))
                .await?;
            audit_user_action(
                &state,
                &req,
                &user,
                "rule.changed",
                Some(("alert_rule", id.to_string())),
                &["enabled"],
            )
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
        _ => {
            return Err(AppError::BadRequest(
                "action must be create, enable or disable".into(),
            ));
        }
    }
    Ok(back())
}
