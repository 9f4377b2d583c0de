//! `/portal/settings/rules`: alert rules. Everyone reads them; admins create, edit and
//! enable/disable. Rules are never deleted (alerts keep pointing at the rule that raised
//! them), only disabled.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::repo::alerts as repo;
use crate::db::repo::channels::Channel;
use crate::domain::roles::Role;
use crate::services::rules::{self, RuleInput, RulesError};
use crate::web::auth::{self, CurrentUser};
use crate::web::errors::AppError;
use crate::web::handlers::form_id;
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

/// A numeric rule in words (issue 19 item 8: never "severity gte 0.4"): a severity floor
/// that is a label's reads as the label ("severity at least medium").
fn legacy_condition(r: &repo::AlertRule) -> String {
    use crate::domain::stats::SeverityLabel;
    let label_floor = SeverityLabel::ALL
        .into_iter()
        .find(|l| (l.floor() - r.threshold).abs() < 1e-9);
    if let Some(label) = label_floor.filter(|_| r.metric == "severity" && r.comparison == "gte") {
        return format!("severity at least {}", label.label().to_lowercase());
    }
    let metric = match r.metric.as_str() {
        "rate_delta" => "rate change",
        "days_delta" => "decision time change (days)",
        "quality_score" => "upload quality score",
        other => other,
    };
    let comparison = match r.comparison.as_str() {
        "gt" => "above",
        "gte" => "at least",
        "lt" => "below",
        "lte" => "at most",
        "eq" => "exactly",
        other => other,
    };
    format!(
        "{metric} {comparison} {}",
        crate::domain::format::decimal(r.threshold, 2)
            .trim_end_matches('0')
            .trim_end_matches('.')
    )
}

pub async fn list(state: web::Data<AppState>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let (rules, channels) = rules::list(&state.db, user.scope()).await?;
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
                    condition: r
                        .conditions()
                        .describe()
                        .unwrap_or_else(|| legacy_condition(r)),
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
    min_severity: Option<String>,
    min_dollars_per_month: Option<String>,
    min_rate_delta_points: Option<String>,
    min_days_delta: Option<String>,
}

fn back() -> HttpResponse {
    super::super::see_other("/portal/settings/rules")
}

fn rules_error(err: RulesError) -> AppError {
    match err {
        RulesError::Invalid(message) => AppError::BadRequest(message),
        RulesError::Phi(_) => AppError::BadRequest(err.to_string()),
        RulesError::Db(e) => e.into(),
    }
}

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Admin>,
    form: web::Form<RuleForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (db, scope) = (&state.db, user.scope());
    match form.action.as_str() {
        "create" => {
            let input = RuleInput {
                name: form.name,
                product: form.product,
                kind: form.kind,
                payer: form.payer,
                cpt_group: form.cpt_group,
                direction: form.direction,
                metric: form.metric,
                comparison: form.comparison,
                threshold: form.threshold,
                channels: form.channels,
                min_severity: form.min_severity,
                min_dollars_per_month: form.min_dollars_per_month,
                min_rate_delta_points: form.min_rate_delta_points,
                min_days_delta: form.min_days_delta,
            };
            let (ctx, entry) = user.audit(
                &req,
                &state,
                "rule.created",
                &[
                    "name",
                    "scope",
                    "metric",
                    "comparison",
                    "threshold",
                    "conditions",
                ],
            );
            match rules::create(db, scope, &input, ctx, entry).await {
                Ok(_) => auth::set_flash(
                    user.session(),
                    "success",
                    "The rule was created; it applies to findings from the next run on.",
                ),
                // Said on the page, as the other refusals of a typed value are not.
                Err(e @ RulesError::Phi(_)) => {
                    auth::set_flash(user.session(), "error", e.to_string())
                }
                Err(e) => return Err(rules_error(e)),
            }
        }
        "enable" | "disable" => {
            let id = form_id(&form.rule_id, "rule_id")?;
            let enabled = form.action == "enable";
            let (ctx, entry) = user.audit(&req, &state, "rule.changed", &["enabled"]);
            rules::set_enabled(db, scope, id, enabled, ctx, entry)
                .await
                .map_err(rules_error)?;
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
            let id = form_id(&form.rule_id, "rule_id")?;
            let (ctx, entry) = user.audit(&req, &state, "rule.changed", &["channels"]);
            rules::set_channels(db, scope, id, form.channels.as_deref(), ctx, entry)
                .await
                .map_err(rules_error)?;
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
