//! Alert rules: the tenant's rules (the defaults are created on first look), checking a new
//! rule (PHI, metric, comparison, threshold, canonical product and direction names), and
//! choosing which of the tenant's channels a rule notifies. Rules are never deleted
//! (alerts keep pointing at the rule that raised them), only disabled.

use crate::db::repo::alerts::{self as repo, AlertRule, NewRule};
use crate::db::repo::channels::{self as channel_repo, Channel};
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::alerts::{Comparison, Conditions, DATA_QUALITY, Metric};
use crate::domain::analytics::{Direction, Product};
use crate::domain::phi;
use crate::domain::stats::SeverityLabel;
use crate::domain::tenant::TenantScope;

/// Why a rule change was refused, or failed.
#[derive(Debug, thiserror::Error)]
pub enum RulesError {
    /// A malformed value; the message names the field.
    #[error("{0}")]
    Invalid(String),
    /// A field looks like patient information; nothing was saved.
    #[error("The {0} looks like it contains patient information (PHI); the rule was not saved.")]
    Phi(&'static str),
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A new rule as typed into the form; empty fields are "any".
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

/// The tenant's rules (creating the default ones the first time) and its channels.
pub async fn list(db: &Db, scope: TenantScope) -> Result<(Vec<AlertRule>, Vec<Channel>), DbError> {
    db.write(move |conn| {
        let rules = repo::ensure_default_rules(conn, &scope)?;
        let channels = channel_repo::list_channels(conn, &scope)?;
        Ok((rules, channels))
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
    let new = checked(input)?;
    db.write_audited(
        ctx,
        move |id: &i64| entry.target("alert_rule", id),
        move |conn| {
            own_channel(conn, &scope, &new.channel_ids)?;
            Ok(repo::insert_rule(conn, &scope, &new)?)
        },
    )
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

/// The form's values as a rule to store, or why not.
fn checked(input: &RuleInput) -> Result<NewRule, RulesError> {
    let invalid = |m: &str| RulesError::Invalid(m.to_string());
    let name = optional(&input.name).ok_or_else(|| invalid("name is required"))?;
    for (field, value) in [
        ("name", Some(name.clone())),
        ("payer", optional(&input.payer)),
        ("cpt_group", optional(&input.cpt_group)),
    ] {
        if value.as_deref().is_some_and(phi::contains_phi) {
            return Err(RulesError::Phi(field));
        }
    }
    let metric = Metric::parse(input.metric.as_deref().unwrap_or("severity"))
        .ok_or_else(|| invalid("metric must be severity, rate_delta or days_delta"))?;
    let comparison = Comparison::parse(input.comparison.as_deref().unwrap_or("gte"))
        .ok_or_else(|| invalid("comparison must be gt, gte, lt, lte or eq"))?;
    let threshold: f64 = input
        .threshold
        .as_deref()
        .unwrap_or("0.7")
        .trim()
        .parse()
        .ok()
        .filter(|t: &f64| t.is_finite())
        .ok_or_else(|| invalid("threshold must be a number"))?;
    // Stored by their canonical names, so a rule typed as "drift" matches findings.
    let product = match optional(&input.product) {
        None => None,
        Some(p) if p == DATA_QUALITY => Some(p),
        Some(p) => Some(
            p.parse::<Product>()
                .map(|p| p.as_str().to_string())
                .map_err(|_| {
                    invalid(
                        "product must be drift_watch, denial_scope, delay_guard or data_quality",
                    )
                })?,
        ),
    };
    let direction = optional(&input.direction)
        .map(|d| d.parse::<Direction>())
        .transpose()
        .map_err(|_| invalid("direction must be worse or better"))?
        .map(|d| d.as_str().to_string());
    let conditions = conditions(input)?;
    Ok(NewRule {
        conditions,
        name,
        product,
        kind: optional(&input.kind),
        payer: optional(&input.payer),
        cpt_group: optional(&input.cpt_group),
        direction,
        metric: metric.as_str().to_string(),
        comparison: comparison.as_str().to_string(),
        threshold,
        channel_ids: parse_channels(input.channels.as_deref())?,
    })
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
                        RulesError::Invalid(format!("{field} must be a number of 0 or more"))
                    })
            })
            .transpose()
    };
    let min_severity = optional(&input.min_severity)
        .map(|l| {
            l.parse::<SeverityLabel>().map_err(|_| {
                RulesError::Invalid("min_severity must be low, medium, high or critical".into())
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
        id => id
            .parse::<i64>()
            .map(|id| id.to_string())
            .map_err(|_| RulesError::Invalid("channels must be all, none or a channel id".into())),
    }
}
