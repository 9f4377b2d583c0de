//! What a notification says: the e-mail subject and body, the Slack blocks and the
//! webhook JSON for an alert (or a channel's test message). Everything comes from the
//! alert's own fields and evidence — aggregates, payer and group names — never from
//! claims, so no payload can carry PHI. The webhook body is compact JSON with sorted keys
//! (the legacy signature scheme requires it; `serde_json`'s map is ordered).

use chrono::NaiveDateTime;
use serde_json::{Value, json};

use crate::db::repo::alerts::AlertEvent;
use crate::domain::alerts::source_label;

#[derive(Debug, Clone)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub webhook_body: String,
    pub slack_body: String,
}

fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The alert's link on the portal.
pub fn alert_url(public_url: &str, alert_id: i64) -> String {
    format!("{public_url}/portal/alerts/{alert_id}")
}

fn number(v: &Value, key: &str) -> Option<f64> {
    v.get(key).and_then(Value::as_f64)
}

/// "0.11 → 0.45" style change line from the evidence, in the kind's unit.
fn change_line(alert: &AlertEvent, evidence: &Value) -> String {
    if alert.product == crate::domain::alerts::DATA_QUALITY {
        return match number(evidence, "quality_score") {
            Some(score) => format!("quality score {score:.2} (below 90)"),
            None => "quality score below 90".to_string(),
        };
    }
    let (Some(base), Some(cur)) = (
        number(evidence, "baseline_value"),
        number(evidence, "current_value"),
    ) else {
        return alert.title.clone();
    };
    if matches!(alert.kind.as_str(), "decision_time" | "slowdown" | "trend") {
        format!("{base:.1} → {cur:.1} days ({:+.1} days)", cur - base)
    } else if matches!(
        alert.kind.as_str(),
        "denial_rate" | "reason_share_spike" | "denial_rate_spike"
    ) {
        format!(
            "{:.1} % → {:.1} % ({:+.1} pts)",
            base * 100.0,
            cur * 100.0,
            (cur - base) * 100.0
        )
    } else {
        format!("{base:.2} → {cur:.2}")
    }
}

/// The message for an alert delivery.
pub fn for_alert(
    alert: &AlertEvent,
    public_url: &str,
    delivery_id: i64,
    sent_at: NaiveDateTime,
) -> Message {
    let evidence: Value = serde_json::from_str(&alert.payload_json).unwrap_or(Value::Null);
    let product = source_label(&alert.product);
    let url = alert_url(public_url, alert.id);
    let group = if alert.cpt_group.is_empty() {
        "all groups".to_string()
    } else {
        alert.cpt_group.clone()
    };
    let payer = if alert.payer.is_empty() {
        "all payers".to_string()
    } else {
        alert.payer.clone()
    };
    let change = change_line(alert, &evidence);
    // The money at stake in the card's words; a finding without amounts says so.
    let money = number(&evidence, "dollars_per_month").map_or_else(
        || "not computed".to_string(),
        |d| crate::domain::analytics::impact::money_words(alert.kind.parse().ok(), d),
    );
    let kind = alert.kind.replace('_', " ");
    let subject = format!(
        "[PayerWatch] {product} {} alert: {}",
        alert.severity_label, alert.title
    );
    let text = format!(
        "PayerWatch raised a {severity} {product} alert.\n\n\
         Payer: {payer}\nGroup: {group}\nFinding: {kind}\nChange: {change}\n\
         Money at stake: {money}\nRaised: {raised}\n\nOpen the alert: {url}\n\n\
         This message carries aggregates only, no patient information.\n",
        severity = alert.severity_label,
        raised = alert.created_at.format("%Y-%m-%d %H:%M UTC"),
    );
    let webhook = json!({
        "event_type": "alert.created",
        "delivery_id": delivery_id,
        "sent_at": iso(sent_at),
        "alert": {
            "id": alert.id,
            "url": url,
            "product": alert.product,
            "product_label": product,
            "kind": alert.kind,
            "payer": alert.payer,
            "cpt_group": alert.cpt_group,
            "severity": alert.severity,
            "severity_label": alert.severity_label,
            "title": alert.title,
            "change": change,
            "created_at": iso(alert.created_at),
            "evidence": evidence,
        },
    });
    let slack = json!({
        "text": format!("{product} {} alert: {} — {url}", alert.severity_label, alert.title),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": format!("{product}: {}", alert.title)}},
            {"type": "section", "fields": [
                {"type": "mrkdwn", "text": format!("*Payer*\n{payer}")},
                {"type": "mrkdwn", "text": format!("*Group*\n{group}")},
                {"type": "mrkdwn", "text": format!("*Finding*\n{kind}")},
                {"type": "mrkdwn", "text": format!("*Change*\n{change}")},
                {"type": "mrkdwn", "text": format!("*Money at stake*\n{money}")},
                {"type": "mrkdwn", "text": format!("*Severity*\n{}", alert.severity_label)},
            ]},
            {"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": "Open alert"}, "url": url}
            ]},
        ],
    });
    Message {
        subject,
        text,
        webhook_body: webhook.to_string(),
        slack_body: slack.to_string(),
    }
}

/// A person's daily digest: the alerts raised since their previous digest that are
/// assigned to them or to nobody, each with its change line and link. E-mail only (the
/// other bodies are empty: a digest is never queued on a webhook or Slack channel).
pub fn for_digest(digest: &crate::db::repo::digests::DigestJob, public_url: &str) -> Message {
    let n = digest.alerts.len();
    let subject = format!(
        "[PayerWatch] Daily digest {}: {n} new alert{} for you or nobody yet",
        digest.day.format("%Y-%m-%d"),
        if n == 1 { "" } else { "s" }
    );
    let mut text = format!(
        "Good morning. PayerWatch raised {n} alert{} since your last digest that {} assigned to you or to nobody yet.\n\n",
        if n == 1 { "" } else { "s" },
        if n == 1 { "is" } else { "are" }
    );
    for (alert, mine) in &digest.alerts {
        let evidence: Value = serde_json::from_str(&alert.payload_json).unwrap_or(Value::Null);
        text.push_str(&format!(
            "* {title}\n  {product}, {severity}; {change}; {whose}\n  {url}\n\n",
            title = alert.title,
            product = source_label(&alert.product),
            severity = alert.severity_label,
            change = change_line(alert, &evidence),
            whose = if *mine {
                "assigned to you"
            } else {
                "not assigned yet"
            },
            url = alert_url(public_url, alert.id),
        ));
    }
    text.push_str(&format!(
        "Your alerts: {public_url}/portal/alerts?assignee=me\n\
         Turn this digest off on your account page: {public_url}/portal/account/password\n\n\
         This message carries aggregates only, no patient information.\n"
    ));
    Message {
        subject,
        text,
        webhook_body: String::new(),
        slack_body: String::new(),
    }
}

/// A channel's test message.
pub fn for_test(public_url: &str, delivery_id: i64, sent_at: NaiveDateTime) -> Message {
    let url = format!("{public_url}/portal/settings/channels");
    let text = format!(
        "This is a test message from PayerWatch. If you can read it, the channel works.\n\n{url}\n"
    );
    Message {
        subject: "[PayerWatch] Test message".to_string(),
        webhook_body: json!({
            "event_type": "test",
            "delivery_id": delivery_id,
            "sent_at": iso(sent_at),
            "message": "PayerWatch test message",
        })
        .to_string(),
        slack_body: json!({
            "text": "PayerWatch test message: this channel works.",
            "blocks": [
                {"type": "section", "text": {"type": "mrkdwn", "text": format!("*PayerWatch test message* — this channel works. <{url}|Channels>")}}
            ],
        })
        .to_string(),
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert() -> AlertEvent {
        let t = chrono::NaiveDate::from_ymd_opt(2026, 11, 20)
            .and_then(|d| d.and_hms_opt(8, 0, 0))
            .expect("time");
        AlertEvent {
            id: 42,
            customer_id: 1,
            drift_event_id: Some(7),
            upload_id: None,
            rule_id: 1,
            product: "drift_watch".into(),
            kind: "denial_rate".into(),
            payer: "Cigna".into(),
            cpt_group: "IMAGING".into(),
            severity: 0.83,
            severity_label: "high".into(),
            title: "Cigna × IMAGING: denial rate worse (+34.0 points) — $12,400 a month more denied"
                .into(),
            payload_json: r#"{"baseline_value":0.11,"current_value":0.45,"baseline_n":900,"current_n":300,"dollars_per_month":12400.2}"#
                .into(),
            initial_status: "open".into(),
            suppression_json: None,
            created_at: t,
        }
    }

    #[test]
    fn alert_message_names_product_payer_group_change_and_link() {
        let a = alert();
        let m = for_alert(&a, "https://pw.example.org", 5, a.created_at);
        assert!(m.subject.contains("DriftWatch") && m.subject.contains("Cigna × IMAGING"));
        for needle in [
            "Payer: Cigna",
            "Group: IMAGING",
            "11.0 % → 45.0 % (+34.0 pts)",
            "Money at stake: $12,400 a month more denied",
            "https://pw.example.org/portal/alerts/42",
        ] {
            assert!(m.text.contains(needle), "{needle} in {}", m.text);
        }
        let body: Value = serde_json::from_str(&m.webhook_body).expect("json");
        assert_eq!(body["event_type"], "alert.created");
        assert_eq!(
            body["alert"]["url"],
            "https://pw.example.org/portal/alerts/42"
        );
        assert_eq!(body["alert"]["evidence"]["current_n"], 300);
        let slack: Value = serde_json::from_str(&m.slack_body).expect("json");
        assert_eq!(slack["blocks"][0]["type"], "header");
        assert!(m.slack_body.contains("*Payer*\\nCigna"));
        // The money is in the subject (the title) and in Slack's fields.
        assert!(m.subject.contains("$12,400 a month more denied"));
        assert!(
            m.slack_body
                .contains("*Money at stake*\\n$12,400 a month more denied")
        );
    }

    #[test]
    fn webhook_body_is_compact_with_sorted_keys() {
        let a = alert();
        let m = for_alert(&a, "http://x", 1, a.created_at);
        let reparsed: Value = serde_json::from_str(&m.webhook_body).expect("json");
        assert_eq!(m.webhook_body, reparsed.to_string(), "compact, canonical");
        assert!(!m.webhook_body.contains('\n'));
        let first_keys: Vec<usize> = [
            "\"alert\"",
            "\"delivery_id\"",
            "\"event_type\"",
            "\"sent_at\"",
        ]
        .iter()
        .map(|k| m.webhook_body.find(k).expect("key"))
        .collect();
        assert!(
            first_keys.windows(2).all(|w| w[0] < w[1]),
            "{}",
            m.webhook_body
        );
    }
}
