//! `/portal/settings/rules`: alert rules. Everyone reads them; admins create, edit in
//! place (`?edit=ID` opens the form filled in), enable/disable, archive and restore.
//! Rules are never deleted (alerts keep pointing at the rule that raised them). A refused
//! form answers 400 with the page, the message beside the field and the values kept.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::db::repo::alerts as repo;
use crate::db::repo::channels::Channel;
use crate::domain::roles::Role;
use crate::services::rules::{self, RuleChoices, RuleInput, RulesError};
use crate::web::auth::{self, CurrentUser};
use crate::web::errors::AppError;
use crate::web::handlers::form_id;
use crate::web::state::AppState;
use crate::web::view::layout::Layout;
use crate::web::view::render::render_with_status;

struct RuleRow {
    id: i64,
    name: String,
    scope: String,
    condition: String,
    enabled: bool,
    /// The day it was archived (empty: not archived).
    archived_on: String,
    channels: String,
    channel_choice: String,
}

/// The rule form's values (a new rule, the rule being edited, or what was posted) and the
/// refusal to show beside its field.
#[derive(Debug, Default)]
struct RuleFormView {
    /// The rule being edited; `None` for a new rule.
    rule_id: Option<i64>,
    name: String,
    product: String,
    kind: String,
    payer: String,
    cpt_group: String,
    direction: String,
    min_severity: String,
    min_dollars_per_month: String,
    min_rate_delta_points: String,
    min_days_delta: String,
    channels: String,
    metric: String,
    comparison: String,
    threshold: String,
    error_field: String,
    error: String,
}

impl RuleFormView {
    fn new_rule() -> Self {
        RuleFormView {
            direction: "worse".into(),
            min_severity: "high".into(),
            channels: "all".into(),
            metric: "severity".into(),
            comparison: "gte".into(),
            threshold: "0.7".into(),
            ..RuleFormView::default()
        }
    }

    fn of_rule(r: &repo::AlertRule, channel_choice: &str) -> Self {
        let number = |v: Option<f64>| v.map(trimmed_number).unwrap_or_default();
        RuleFormView {
            rule_id: Some(r.id),
            name: r.name.clone(),
            product: r.product.clone().unwrap_or_default(),
            kind: r.kind.clone().unwrap_or_default(),
            payer: r.payer.clone().unwrap_or_default(),
            cpt_group: r.cpt_group.clone().unwrap_or_default(),
            direction: r.direction.clone().unwrap_or_default(),
            min_severity: r.min_severity.clone().unwrap_or_default(),
            min_dollars_per_month: number(r.min_dollars_per_month),
            min_rate_delta_points: number(r.min_rate_delta_points),
            min_days_delta: number(r.min_days_delta),
            channels: channel_choice.to_string(),
            metric: r.metric.clone(),
            comparison: r.comparison.clone(),
            threshold: trimmed_number(r.threshold),
            ..RuleFormView::default()
        }
    }

    /// What was posted, with the refusal; a field that looked like PHI is not echoed.
    fn posted(rule_id: Option<i64>, form: &RuleForm, err: &RulesError) -> Self {
        let value = |v: &Option<String>| v.clone().unwrap_or_default();
        let mut view = RuleFormView {
            rule_id,
            name: value(&form.name),
            product: value(&form.product),
            kind: value(&form.kind),
            payer: value(&form.payer),
            cpt_group: value(&form.cpt_group),
            direction: value(&form.direction),
            min_severity: value(&form.min_severity),
            min_dollars_per_month: value(&form.min_dollars_per_month),
            min_rate_delta_points: value(&form.min_rate_delta_points),
            min_days_delta: value(&form.min_days_delta),
            channels: value(&form.channels),
            metric: value(&form.metric),
            comparison: value(&form.comparison),
            threshold: value(&form.threshold),
            error_field: err.field().unwrap_or_default().to_string(),
            error: err.to_string(),
        };
        if let RulesError::Phi(field) = err {
            match *field {
                "name" => view.name.clear(),
                "payer" => view.payer.clear(),
                "cpt_group" => view.cpt_group.clear(),
                _ => {}
            }
        }
        view
    }

    fn error_for(&self, field: &str) -> Option<&str> {
        (self.error_field == field).then_some(self.error.as_str())
    }
}

/// `5000.0` → `5000`, `2.5` → `2.5` (a stored number as a person typed it).
fn trimmed_number(v: f64) -> String {
    let text = format!("{v}");
    text.strip_suffix(".0").map(str::to_string).unwrap_or(text)
}

#[derive(Template)]
#[template(path = "settings/rules.html")]
struct RulesPage {
    layout: Layout,
    rules: Vec<RuleRow>,
    archived: Vec<RuleRow>,
    can_edit: bool,
    channel_options: Vec<(String, String)>,
    /// Products and their kinds: (product, product label, [(kind, kind label)]).
    kinds: Vec<rules::KindChoice>,
    payers: Vec<String>,
    groups: Vec<String>,
    reasons: Vec<String>,
    form: RuleFormView,
}

impl RulesPage {
    fn error_for(&self, field: &str) -> Option<&str> {
        self.form.error_for(field)
    }
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

#[derive(Debug, Deserialize)]
pub struct RulesQuery {
    edit: Option<String>,
}

/// SPEC §10: the rules page is an admin's (unlike mappings, it has no read-only view).
pub async fn list(
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Admin>,
    query: web::Query<RulesQuery>,
) -> Result<HttpResponse, AppError> {
    let edit = match query.into_inner().edit.filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(v) => Some(v.trim().parse::<i64>().map_err(|_| {
            AppError::BadRequest("The parameter 'edit' must be a rule number.".into())
        })?),
    };
    page(&state, &user, StatusCode::OK, Form::Edit(edit)).await
}

/// Which form the page shows.
enum Form {
    /// The new-rule form, or rule `id`'s filled in.
    Edit(Option<i64>),
    /// What was posted, refused.
    Refused(Box<RuleFormView>),
}

async fn page(
    state: &AppState,
    user: &CurrentUser,
    status: StatusCode,
    form: Form,
) -> Result<HttpResponse, AppError> {
    let (all, choices) = rules::list(&state.db, user.scope()).await?;
    let RuleChoices {
        payers,
        groups,
        reasons,
        channels,
    } = choices;
    let can_edit = user.role.allows(Role::Admin);
    let form = match form {
        Form::Refused(view) => *view,
        Form::Edit(None) => RuleFormView::new_rule(),
        // Only admins edit; another tenant's rule looks absent.
        Form::Edit(Some(_)) if !can_edit => return Err(AppError::Forbidden),
        Form::Edit(Some(id)) => {
            let rule = all.iter().find(|r| r.id == id).ok_or(AppError::NotFound)?;
            RuleFormView::of_rule(rule, &describe_channels(rule, &channels).1)
        }
    };
    let mut channel_options = vec![
        ("all".to_string(), "Every enabled channel".to_string()),
        ("none".to_string(), "None (alert page only)".to_string()),
    ];
    channel_options.extend(
        channels
            .iter()
            .map(|c| (c.id.to_string(), format!("Only {} ({})", c.name, c.kind))),
    );
    let row = |r: &repo::AlertRule| {
        let (channel_text, channel_choice) = describe_channels(r, &channels);
        RuleRow {
            id: r.id,
            name: r.name.clone(),
            scope: describe_scope(r),
            condition: r
                .conditions()
                .describe()
                .unwrap_or_else(|| legacy_condition(r)),
            enabled: r.enabled,
            archived_on: r
                .archived_at
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_default(),
            channels: channel_text,
            channel_choice,
        }
    };
    let (archived, active): (Vec<_>, Vec<_>) = all.iter().partition(|r| r.archived_at.is_some());
    // A payer or group the edited rule names stays offered even with no claims now.
    let (mut payers, mut groups) = (payers, groups);
    if !form.payer.is_empty() && !payers.contains(&form.payer) {
        payers.push(form.payer.clone());
    }
    if !form.cpt_group.is_empty()
        && !groups.contains(&form.cpt_group)
        && !reasons.contains(&form.cpt_group)
    {
        groups.push(form.cpt_group.clone());
    }
    render_with_status(
        status,
        &RulesPage {
            layout: user.layout("Alert rules", "/portal/settings/rules"),
            rules: active.into_iter().map(row).collect(),
            archived: archived.into_iter().map(row).collect(),
            can_edit,
            channel_options,
            kinds: rules::kind_choices(),
            payers,
            groups,
            reasons,
            form,
        },
    )
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
        RulesError::Invalid(_, message) => AppError::BadRequest(message),
        RulesError::Phi(_) => AppError::BadRequest(err.to_string()),
        RulesError::Db(e) => e.into(),
    }
}

impl RuleForm {
    fn input(&self) -> RuleInput {
        RuleInput {
            name: self.name.clone(),
            product: self.product.clone(),
            kind: self.kind.clone(),
            payer: self.payer.clone(),
            cpt_group: self.cpt_group.clone(),
            direction: self.direction.clone(),
            metric: self.metric.clone(),
            comparison: self.comparison.clone(),
            threshold: self.threshold.clone(),
            channels: self.channels.clone(),
            min_severity: self.min_severity.clone(),
            min_dollars_per_month: self.min_dollars_per_month.clone(),
            min_rate_delta_points: self.min_rate_delta_points.clone(),
            min_days_delta: self.min_days_delta.clone(),
        }
    }
}

/// The audited fields of a rule's create or edit (names only, never values).
const RULE_FIELDS: &[&str] = &[
    "name",
    "scope",
    "metric",
    "comparison",
    "threshold",
    "conditions",
    "channels",
];

pub async fn submit(
    req: HttpRequest,
    state: web::Data<AppState>,
    user: auth::Authorized<auth::Admin>,
    form: web::Form<RuleForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let (db, scope) = (&state.db, user.scope());
    match form.action.as_str() {
        "create" | "update" => {
            let id = match form.action.as_str() {
                "update" => Some(form_id(&form.rule_id, "rule_id")?),
                _ => None,
            };
            let input = form.input();
            let result = match id {
                None => {
                    let (ctx, entry) = user.audit(&req, &state, "rule.created", RULE_FIELDS);
                    rules::create(db, scope, &input, ctx, entry)
                        .await
                        .map(|_| ())
                }
                Some(id) => {
                    let (ctx, entry) = user.audit(&req, &state, "rule.changed", RULE_FIELDS);
                    rules::update(db, scope, id, &input, ctx, entry).await
                }
            };
            match result {
                Ok(()) => auth::set_flash(
                    user.session(),
                    "success",
                    if id.is_some() {
                        "The rule was saved; it applies to findings from the next run on. Alerts it already raised stay as they were."
                    } else {
                        "The rule was created; it applies to findings from the next run on."
                    },
                ),
                // The form again, the message beside the field, the values kept.
                Err(e @ (RulesError::Invalid(..) | RulesError::Phi(_))) => {
                    let view = RuleFormView::posted(id, &form, &e);
                    return page(
                        &state,
                        &user,
                        StatusCode::BAD_REQUEST,
                        Form::Refused(Box::new(view)),
                    )
                    .await;
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
        "archive" | "restore" => {
            let id = form_id(&form.rule_id, "rule_id")?;
            let archived = form.action == "archive";
            let (ctx, entry) = user.audit(
                &req,
                &state,
                if archived {
                    "rule.archived"
                } else {
                    "rule.restored"
                },
                &["archived"],
            );
            rules::set_archived(db, scope, id, archived, ctx, entry)
                .await
                .map_err(rules_error)?;
            auth::set_flash(
                user.session(),
                "success",
                if archived {
                    "Rule archived: it raises no more alerts; the alerts it raised stay. Restore it from the archived rules below."
                } else {
                    "Rule restored."
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
                "action must be create, update, enable, disable, archive, restore or channels"
                    .into(),
            ));
        }
    }
    Ok(back())
}
