//! Turning new findings into alerts: every enabled rule of the tenant that matches the
//! finding yields one alert, sent or suppressed (cooldown, noise) with the reason kept.
//! Runs inside the report run's transaction, so a failed run leaves no alerts either.

use chrono::NaiveDateTime;

use crate::db::repo::alerts::{self, NewAlert};
use crate::db::repo::analytics::NewDriftEvent;
use crate::db::{DbConnection, DbError};
use crate::domain::alerts::{Decision, FindingFacts, NOISE_WINDOW_DAYS, decide, rule_matches};
use crate::domain::tenant::TenantScope;

/// A one-line title: payer, group, kind, direction and the change.
pub fn title(event: &NewDriftEvent) -> String {
    let subject = if event.cpt_group.is_empty() {
        event.payer.clone()
    } else {
        format!("{} × {}", event.payer, event.cpt_group)
    };
    let change = if matches!(event.kind.as_str(), "decision_time" | "slowdown" | "trend") {
        format!("{:+.1} days", event.delta)
    } else if matches!(
        event.kind.as_str(),
        "denial_rate" | "reason_share_spike" | "denial_rate_spike"
    ) {
        format!("{:+.1} pts", event.delta * 100.0)
    } else {
        format!("{:+.1}", event.delta)
    };
    format!(
        "{subject}: {} {} ({change})",
        event.kind.replace('_', " "),
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
    };
    let key = (
        event.product.as_str(),
        event.kind.as_str(),
        event.payer.as_str(),
        event.cpt_group.as_str(),
    );
    let mut created = 0;
    for rule in rules.iter().filter(|r| rule_matches(&r.spec(), &facts)) {
        let last_sent = alerts::last_sent_at(conn, scope, key)?;
        let noise = alerts::noise_judgments_since(
            conn,
            scope,
            key,
            now - chrono::Duration::days(NOISE_WINDOW_DAYS),
        )?;
        let (initial_status, suppression_json) = match decide(now, last_sent, cooldown, noise) {
            Decision::Send => ("open", None),
            Decision::Suppress(reason) => ("suppressed", serde_json::to_string(&reason).ok()),
        };
        alerts::insert_alert(
            conn,
            scope,
            &NewAlert {
                customer_id: scope.id(),
                drift_event_id: event_id,
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
