//! Alert rules: the tenant's rules (the defaults are created on first look), checking a
//! rule as typed (PHI, kind from the product's list, the tenant's own payers and groups,
//! metric, comparison, threshold, canonical product and direction names), editing it in
//! place, archiving and restoring it, and choosing which of the tenant's channels it
//! notifies. Rules are never deleted (alerts keep pointing at the rule that raised them).

use crate::db::repo::alerts::{self as repo, AlertRule, NewRule};
use crate::db::repo::channels::{self as channel_repo, Channel};
use crate::db::repo::mappings as mapping_repo;
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::alerts::{
    Comparison, Conditions, DATA_QUALITY, Metric, QUALITY_KIND, alert_source,
};
use crate::domain::analytics::{Direction, FindingKind, Product};
use crate::domain::phi;
use crate::domain::stats::SeverityLabel;
use crate::domain::tenant::TenantScope;

/// Why a rule change was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A malformed value: the form field it belongs to, and the message naming it.
    #[error("{1}")]
    Invalid(&'static str, String),
    /// A field looks like patient information; nothing was saved.
    #[error("The {0} looks like it contains patient information (PHI); the rule was not saved.")]
    Phi(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

impl RulesError {
    /// The form field the refusal is about (shown beside it), if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            RulesError::Invalid(field, _) | RulesError::Phi(field) => Some(field),
            RulesError::Db(_) => None,
        }
    }
}

/// A rule as typed into the form; empty fields are "any".
#[derive(Debug, Default, Clone)]
pub struct RuleInput {
    pub name: Option<String>,
    pub product: Option<String>,
    pub kind: Option<String>,
    pub payer: Option<String>,
    pub cpt_group: Option<String>,
    pub direction: Option<String>,
    pub metric: Option<String>,
    pub comparison: Option<String>,
    pub threshold: Option<String>,
    pub channels: Option<String>,
    /// Sound rules in words: a severity label (never a number) and optional money / size.
    pub min_severity: Option<String>,
    pub min_dollars_per_month: Option<String>,
    pub min_rate_delta_points: Option<String>,
    pub min_days_delta: Option<String>,
}

/// What the rule form may offer: only this tenant's payers, CPT groups, denial reasons and
/// channels (SPEC §1: drop-downs list only the tenant's own).
#[derive(Debug, Default, Clone)]
pub struct RuleChoices {
    pub payers: Vec<String>,
    pub groups: Vec<String>,
    pub reasons: Vec<String>,
    pub channels: Vec<Channel>,
}

/// A product (name, label) and its kinds (name, label), as the rule form offers them.
pub type KindChoice = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// The kinds a rule may name, by product, in the order the products' pages offer them
/// (`data_quality` has the one kind of upload alerts).
pub fn kind_choices() -> Vec<KindChoice> {
    let mut out: Vec<_> = Product::ALL
        .into_iter()
        .map(|p| {
            (
                p.as_str(),
                p.label(),
                p.kinds().iter().map(|k| (k.as_str(), k.label())).collect(),
            )
        })
        .collect();
    out.push((
        DATA_QUALITY,
        "Data quality (uploads)",
        vec![(QUALITY_KIND, "upload quality score")],
    ));
    out
}

fn load_choices(conn: &mut DbConnection, scope: &TenantScope) -> Result<RuleChoices, DbError> {
    Ok(RuleChoices {
        payers: mapping_repo::payer_names(conn, scope)?,
        groups: mapping_repo::cpt_group_names(conn, scope)?,
        reasons: mapping_repo::denial_reasons(conn, scope)?,
        channels: channel_repo::list_channels(conn, scope)?,
    })
}

/// The tenant's rules (creating the default ones the first time) and what its rule form
/// may offer.
pub async fn list(db: &Db, scope: TenantScope) -> Result<(Vec<AlertRule>, RuleChoices), DbError> {
    db.write(move |conn| {
        let rules = repo::ensure_default_rules(conn, &scope)?;
        let choices = load_choices(conn, &scope)?;
        Ok((rules, choices))
    })
    .await
}

/// Checks `input` and stores the rule with the audit row `entry` (targeted at the new id).
pub async fn create(
    db: &Db,
    scope: TenantScope,
    input: &RuleInput,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<i64, RulesError> {
    let input = input.clone();
    db.write_audited(
        ctx,
        move |id: &i64| entry.target("alert_rule", id),
        move |conn| {
            let choices = load_choices(conn, &scope)?;
            let new = checked(&input, &choices, None)?;
            own_channel(conn, &scope, &new.channel_ids)?;
            Ok(repo::insert_rule(conn, &scope, &new)?)
        },
    )
    .await
}

/// Rule `id` of this tenant, for its edit form (`NotFound` for another tenant's id).
pub async fn find(db: &Db, scope: TenantScope, id: i64) -> Result<AlertRule, DbError> {
    db.run(move |conn| repo::find_rule(conn, &scope, id)).await
}

/// Edits rule `id` in place: every field is checked as for a new rule (a payer or group
/// the rule already names stays allowed even when no claim has it now). Its id, enabled /
/// archived state and the alerts it raised stay as they are.
pub async fn update(
    db: &Db,
    scope: TenantScope,
    id: i64,
    input: &RuleInput,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), RulesError> {
    let input = input.clone();
    db.write_audited(ctx, entry.target("alert_rule", id), move |conn| {
        let current = repo::find_rule(conn, &scope, id)?;
        let choices = load_choices(conn, &scope)?;
        let rule = checked(&input, &choices, Some(&current))?;
        own_channel(conn, &scope, &rule.channel_ids)?;
        Ok(repo::update_rule(conn, &scope, id, &rule)?)
    })
    .await
}

/// Archives rule `id` (it stops matching and is listed apart) or restores it.
pub async fn set_archived(
    db: &Db,
    scope: TenantScope,
    id: i64,
    archived: bool,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), RulesError> {
    db.write_audited(ctx, entry.target("alert_rule", id), move |conn| {
        Ok(repo::set_rule_archived(conn, &scope, id, archived)?)
    })
    .await
}

pub async fn set_enabled(
    db: &Db,
    scope: TenantScope,
    id: i64,
    enabled: bool,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), RulesError> {
    db.write_audited(ctx, entry.target("alert_rule", id), move |conn| {
        Ok(repo::set_rule_enabled(conn, &scope, id, enabled)?)
    })
    .await
}

/// Sets which channels rule `id` notifies: `all` (or empty), `none`, or one channel id of
/// this tenant.
pub async fn set_channels(
    db: &Db,
    scope: TenantScope,
    id: i64,
    choice: Option<&str>,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<(), RulesError> {
    let channel_ids = parse_channels(choice)?;
    db.write_audited(ctx, entry.target("alert_rule", id), move |conn| {
        own_channel(conn, &scope, &channel_ids)?;
        Ok(repo::set_rule_channels(conn, &scope, id, &channel_ids)?)
    })
    .await
}

/// Only this tenant's channels can be named (review 2026-12, row 14): another tenant's id
/// answers `NotFound`, as if it did not exist.
fn own_channel(
    conn: &mut DbConnection,
    scope: &TenantScope,
    channel_ids: &str,
) -> Result<(), DbError> {
    if let Ok(channel) = channel_ids.parse::<i64>() {
        channel_repo::find_channel(conn, scope, channel)?;
    }
    Ok(())
}

fn optional(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// The form's values as a rule to store, or why not. `current` is the rule being edited:
/// the payer and group it names stay allowed.
fn checked(
    input: &RuleInput,
    choices: &RuleChoices,
    current: Option<&AlertRule>,
) -> Result<NewRule, RulesError> {
    let invalid = |field: &'static str, m: &str| RulesError::Invalid(field, m.to_string());
    let name = optional(&input.name).ok_or_else(|| invalid("name", "Give the rule a name."))?;
    if name.chars().count() > 120 {
        return Err(invalid("name", "The name may be at most 120 characters."));
    }
    for (field, value) in [
        ("name", Some(name.clone())),
        ("payer", optional(&input.payer)),
        ("cpt_group", optional(&input.cpt_group)),
    ] {
        if value.as_deref().is_some_and(phi::contains_phi) {
            return Err(RulesError::Phi(field));
        }
    }
    let metric = Metric::parse(input.metric.as_deref().unwrap_or("severity")).ok_or_else(|| {
        invalid(
            "metric",
            "metric must be severity, rate_delta, days_delta or quality_score",
        )
    })?;
    let comparison = Comparison::parse(input.comparison.as_deref().unwrap_or("gte"))
        .ok_or_else(|| invalid("comparison", "comparison must be gt, gte, lt, lte or eq"))?;
    let threshold: f64 = input
        .threshold
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .unwrap_or("0.7")
        .parse()
        .ok()
        .filter(|t: &f64| t.is_finite())
        .ok_or_else(|| invalid("threshold", "threshold must be a number"))?;
    // Stored by their canonical names, so a rule typed as "drift" matches findings.
    let product = optional(&input.product)
        .map(|p| alert_source(&p).map(str::to_string))
        .transpose()
        .map_err(|_| {
            invalid(
                "product",
                "product must be drift_watch, denial_scope, delay_guard or data_quality",
            )
        })?;
    let kind = checked_kind(optional(&input.kind), product.as_deref())?;
    let direction = optional(&input.direction)
        .map(|d| d.parse::<Direction>())
        .transpose()
        .map_err(|_| invalid("direction", "direction must be worse or better"))?
        .map(|d| d.as_str().to_string());
    let payer = optional(&input.payer);
    if let Some(p) = &payer
        && !choices.payers.contains(p)
        && current.and_then(|r| r.payer.as_ref()) != Some(p)
    {
        return Err(invalid(
            "payer",
            "Choose one of your payers from the list (or any payer).",
        ));
    }
    let cpt_group = optional(&input.cpt_group);
    if let Some(g) = &cpt_group
        && !choices.groups.contains(g)
        && !choices.reasons.contains(g)
        && current.and_then(|r| r.cpt_group.as_ref()) != Some(g)
    {
        return Err(invalid(
            "cpt_group",
            "Choose one of your CPT groups or denial reasons from the list (or any).",
        ));
    }
    let conditions = conditions(input)?;
    Ok(NewRule {
        conditions,
        name,
        product,
        kind,
        payer,
        cpt_group,
        direction,
        metric: metric.as_str().to_string(),
        comparison: comparison.as_str().to_string(),
        threshold,
        channel_ids: parse_channels(input.channels.as_deref())?,
    })
}

/// A kind from the list (issue 19 item 8: never free text): one of the product's kinds
/// when a product is chosen, else any product's.
fn checked_kind(kind: Option<String>, product: Option<&str>) -> Result<Option<String>, RulesError> {
    let Some(kind) = kind else {
        return Ok(None);
    };
    let known = kind_choices()
        .into_iter()
        .filter(|(p, _, _)| product.is_none_or(|want| want == *p))
        .any(|(_, _, kinds)| kinds.iter().any(|(k, _)| *k == kind));
    if known {
        return Ok(Some(kind));
    }
    let message = match (
        product,
        kind.parse::<FindingKind>().is_ok() || kind == QUALITY_KIND,
    ) {
        (Some(p), true) => format!(
            "That kind is not one of {}'s; choose one of its kinds or any kind.",
            crate::domain::alerts::source_label(p)
        ),
        _ => "Choose a kind from the list (or any kind).".to_string(),
    };
    Err(RulesError::Invalid("kind", message))
}

/// The rule's conditions in words: `min_severity` by label only (low, medium, high,
/// critical); money in dollars a month, rate change in points, days — each non-negative,
/// `$` and `,` accepted in money. Money or size without a label means "at least low".
fn conditions(input: &RuleInput) -> Result<Conditions, RulesError> {
    let number = |field: &'static str, value: &Option<String>| -> Result<Option<f64>, RulesError> {
        optional(value)
            .map(|v| {
                v.replace(['$', ','], "")
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite() && *n >= 0.0)
                    .ok_or_else(|| {
                        RulesError::Invalid(field, format!("{field} must be a number of 0 or more"))
                    })
            })
            .transpose()
    };
    let min_severity = optional(&input.min_severity)
        .map(|l| {
            l.parse::<SeverityLabel>().map_err(|_| {
                RulesError::Invalid(
                    "min_severity",
                    "min_severity must be low, medium, high or critical".into(),
                )
            })
        })
        .transpose()?;
    let mut c = Conditions {
        min_severity,
        min_dollars_per_month: number("min_dollars_per_month", &input.min_dollars_per_month)?,
        min_rate_delta_points: number("min_rate_delta_points", &input.min_rate_delta_points)?,
        min_days_delta: number("min_days_delta", &input.min_days_delta)?,
    };
    if c.min_severity.is_none()
        && (c.min_dollars_per_month.is_some()
            || c.min_rate_delta_points.is_some()
            || c.min_days_delta.is_some())
    {
        c.min_severity = Some(SeverityLabel::Low);
    }
    Ok(c)
}

/// The form's channel choice → the stored form (`""` all, `"none"`, or one channel id).
fn parse_channels(choice: Option<&str>) -> Result<String, RulesError> {
    match choice.map(str::trim).unwrap_or("all") {
        "all" | "" => Ok(String::new()),
        "none" => Ok("none".to_string()),
        id => id.parse::<i64>().map(|id| id.to_string()).map_err(|_| {
            RulesError::Invalid(
                "channels",
                "channels must be all, none or a channel id".into(),
            )
        }),
    }
}
