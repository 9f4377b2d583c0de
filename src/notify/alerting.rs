//! Turning new findings (and poor uploads) into alerts: every enabled rule of the tenant
//! that matches yields one alert, sent or suppressed (cooldown, noise) with the reason
//! kept; a sent alert queues one delivery per channel of its rule. Runs inside the report
//! run's (or the upload's) transaction, so a failed run leaves no alerts or deliveries.

use chrono::NaiveDateTime;

use crate::db::repo::alerts::{self, AlertRule, NewAlert};
use crate::db::repo::analytics::NewDriftEvent;
use crate::db::repo::deliveries;
use crate::db::{DbConnection, DbError};
use crate::domain::alerts::{Decision, FindingFacts, NOISE_WINDOW_DAYS, decide, rule_matches};
use crate::domain::analytics::FindingKind;
use crate::domain::tenant::TenantScope;
use crate::observability::metrics;

pub use crate::domain::alerts::{DATA_QUALITY, QUALITY_KIND};

/// A rule's channels: `""` = every enabled channel of the tenant (the default, so a
/// channel added later is used at once), `"none"` = the alert page only, else a comma-
/// separated list of channel ids.
pub fn rule_channels(
    conn: &mut DbConnection,
    scope: &TenantScope,
    rule: &AlertRule,
) -> Result<Vec<i64>, DbError> {
    match rule.channel_ids.trim() {
        "" => deliveries::enabled_channel_ids(conn, scope),
        "none" => Ok(Vec::new()),
        list => Ok(list
            .split(',')
            .filter_map(|id| id.trim().parse::<i64>().ok())
            .collect()),
    }
}

/// Sent (`open`) or `suppressed` with the reason as JSON: the cooldown and noise rules
/// (ANALYTICS.md § Alerts) on the alert's key.
fn initial_status(
    conn: &mut DbConnection,
    scope: &TenantScope,
    key: (&str, &str, &str, &str),
    cooldown: chrono::Duration,
    now: NaiveDateTime,
) -> Result<(&'static str, Option<String>), DbError> {
    let last_sent = alerts::last_sent_at(conn, scope, key)?;
    let noise = alerts::noise_judgments_since(
        conn,
        scope,
        key,
        now - chrono::Duration::days(NOISE_WINDOW_DAYS),
    )?;
    Ok(match decide(now, last_sent, cooldown, noise) {
        Decision::Send => ("open", None),
        Decision::Suppress(reason) => ("suppressed", serde_json::to_string(&reason).ok()),
    })
}

/// Stores an alert and, when it is sent, queues its deliveries.
fn record(
    conn: &mut DbConnection,
    scope: &TenantScope,
    rule: &AlertRule,
    alert: &NewAlert,
) -> Result<i64, DbError> {
    let id = alerts::insert_alert(conn, scope, alert)?;
    if alert.initial_status == "open" {
        let channels = rule_channels(conn, scope, rule)?;
        deliveries::enqueue_for_alert(conn, scope, id, &channels, crate::db::repo::now())?;
    }
    metrics::record_alert(&alert.severity_label, &alert.initial_status);
    Ok(id)
}

/// A one-line title: payer, group (a payer-level finding's groups), kind, direction, the
/// change and the money at stake in words ("… — $12,400 a month more denied").
pub fn title(event: &NewDriftEvent) -> String {
    let groups = if event.cpt_group == crate::domain::analytics::grouping::ALL_GROUPS {
        match serde_json::from_str::<crate::domain::analytics::Evidence>(&event.evidence_json) {
            Ok(crate::domain::analytics::Evidence::PayerLevel { members }) => members
                .iter()
                .map(|m| m.group.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            _ => "all groups".to_string(),
        }
    } else {
        event.cpt_group.clone()
    };
    let subject = if groups.is_empty() {
        event.payer.clone()
    } else {
        format!("{} × {groups}", event.payer)
    };
    let kind = event.kind.parse::<FindingKind>().ok();
    let change = match kind {
        Some(k) => k.unit().change(event.delta),
        None => crate::domain::format::decimal(event.delta, 1),
    };
    let money = event
        .dollars_per_month
        .map(|d| {
            format!(
                " — {}",
                crate::domain::analytics::impact::money_words(kind, d)
            )
        })
        .unwrap_or_default();
    format!(
        "{subject}: {} {} ({change}){money}",
        kind.map_or_else(|| event.kind.replace('_', " "), |k| k.label().to_string()),
        event.direction
    )
}

/// The evidence carried by the alert and its notifications: aggregates only, no PHI.
pub fn payload(event_id: i64, event: &NewDriftEvent) -> String {
    serde_json::json!({
        "finding_id": event_id,
        "product": event.product,
        "kind": event.kind,
        "payer": event.payer,
        "cpt_group": event.cpt_group,
        "direction": event.direction,
        "baseline_value": event.baseline_value,
        "current_value": event.current_value,
        "delta": event.delta,
        "ci_low": event.ci_low,
        "ci_high": event.ci_high,
        "p_value": event.p_value,
        "q_value": event.q_value,
        "severity": event.severity,
        "severity_label": event.severity_label,
        "baseline_n": event.baseline_n,
        "current_n": event.current_n,
        "baseline_window": [event.baseline_start, event.baseline_end],
        "current_window": [event.current_start, event.current_end],
        "mode": event.mode,
        "dollars_per_month": event.dollars_per_month,
    })
    .to_string()
}

/// Raises the alerts for one new finding; returns how many were created.
pub fn raise_alerts(
    conn: &mut DbConnection,
    scope: &TenantScope,
    event_id: i64,
    event: &NewDriftEvent,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let rules = alerts::ensure_default_rules(conn, scope)?;
    let cooldown = chrono::Duration::minutes(alerts::cooldown_minutes(conn, scope)?);
    let facts = FindingFacts {
        product: &event.product,
        kind: &event.kind,
        payer: &event.payer,
        cpt_group: &event.cpt_group,
        direction: &event.direction,
        severity: event.severity,
        delta: event.delta,
        severity_label: &event.severity_label,
        dollars_per_month: event.dollars_per_month,
    };
    let key = (
        event.product.as_str(),
        event.kind.as_str(),
        event.payer.as_str(),
        event.cpt_group.as_str(),
    );
    let mut created = 0;
    for rule in rules.iter().filter(|r| rule_matches(&r.spec(), &facts)) {
        let (initial_status, suppression_json) = initial_status(conn, scope, key, cooldown, now)?;
        record(
            conn,
            scope,
            rule,
            &NewAlert {
                customer_id: scope.id(),
                drift_event_id: Some(event_id),
                upload_id: None,
                rule_id: rule.id,
                product: event.product.clone(),
                kind: event.kind.clone(),
                payer: event.payer.clone(),
                cpt_group: event.cpt_group.clone(),
                severity: event.severity,
                severity_label: event.severity_label.clone(),
                title: title(event),
                payload_json: payload(event_id, event),
                initial_status: initial_status.to_string(),
                suppression_json,
                created_at: now,
            },
        )?;
        created += 1;
    }
    Ok(created)
}

/// The facts of a finished upload a data-quality rule looks at.
#[derive(Debug, Clone)]
pub struct UploadQuality<'a> {
    pub upload_id: i64,
    pub file_name: &'a str,
    pub quality_score: f64,
    pub total_rows: i64,
    pub rejected_rows: i64,
}

/// Raises a data-quality alert per enabled data-quality rule whose condition the upload's
/// score meets (default rule: score < 90, SPEC §3). Cooldown and noise suppression work
/// as for findings, on the key (data_quality, quality_score, "", "").
pub fn raise_quality_alerts(
    conn: &mut DbConnection,
    scope: &TenantScope,
    upload: &UploadQuality<'_>,
    now: NaiveDateTime,
) -> Result<usize, DbError> {
    let rules = alerts::ensure_default_rules(conn, scope)?;
    let matching: Vec<&AlertRule> = rules
        .iter()
        .filter(|r| {
            r.is_active()
                && r.product.as_deref() == Some(DATA_QUALITY)
                && crate::domain::alerts::Comparison::parse(&r.comparison)
                    .is_some_and(|c| c.holds(upload.quality_score, r.threshold))
        })
        .collect();
    if matching.is_empty() {
        return Ok(0);
    }
    let cooldown = chrono::Duration::minutes(alerts::cooldown_minutes(conn, scope)?);
    let key = (DATA_QUALITY, QUALITY_KIND, "", "");
    // Further below 90 is worse: 0 points short → low, 40+ points short → critical.
    let severity = ((90.0 - upload.quality_score) / 40.0).clamp(0.1, 1.0);
    let severity_label = crate::domain::stats::SeverityLabel::from_score(severity)
        .as_str()
        .to_string();
    let payload = serde_json::json!({
        "upload_id": upload.upload_id,
        "file_name": upload.file_name,
        "quality_score": upload.quality_score,
        "total_rows": upload.total_rows,
        "rejected_rows": upload.rejected_rows,
    })
    .to_string();
    let mut created = 0;
    for rule in matching {
        let (initial_status, suppression_json) = initial_status(conn, scope, key, cooldown, now)?;
        record(
            conn,
            scope,
            rule,
            &NewAlert {
                customer_id: scope.id(),
                drift_event_id: None,
                upload_id: Some(upload.upload_id),
                rule_id: rule.id,
                product: DATA_QUALITY.to_string(),
                kind: QUALITY_KIND.to_string(),
                payer: String::new(),
                cpt_group: String::new(),
                severity,
                severity_label: severity_label.clone(),
                title: format!(
                    "Upload {} scored {:.2} (below {})",
                    upload.file_name, upload.quality_score, rule.threshold
                ),
                payload_json: payload.clone(),
                initial_status: initial_status.to_string(),
                suppression_json,
                created_at: now,
            },
        )?;
        created += 1;
    }
    Ok(created)
}
