//! The overview's top findings (issue 17 item 3, "one change, one finding"): one real
//! change can be seen by two products — a payer's slower decisions are DriftWatch's
//! decision-time finding (per CPT group, or payer-level listing the groups) **and**
//! DelayGuard's slowdown. The overview shows such a change once: the findings of the latest
//! windows are grouped by payer, kind of change and direction; the group's largest-money
//! finding leads, the others' products and CPT groups are listed with it.

use crate::db::repo::analytics::{self as repo, DriftEvent};
use crate::db::{DbConnection, DbError};
use crate::domain::analytics::{Evidence, FindingKind};
use crate::domain::tenant::TenantScope;

/// How many recent findings are read to build the top list (grouping needs more than it
/// shows; bounded).
const CANDIDATES: i64 = 50;

/// One change on the overview: its leading finding, and what else reported it.
#[derive(Debug, Clone)]
pub struct TopChange {
    pub lead: DriftEvent,
    /// Products (as stored, e.g. `delay_guard`) of the other findings of the same change.
    pub also: Vec<String>,
    /// CPT groups (or reasons) the change covers, from payer-level findings' members and
    /// per-group findings (empty for a payer-wide finding with no groups).
    pub groups: Vec<String>,
}

/// The kind of change, across products: slower decisions are one change whichever product
/// saw them.
fn change_family(kind: &str) -> &str {
    match kind.parse::<FindingKind>() {
        Ok(FindingKind::DecisionTime | FindingKind::Slowdown | FindingKind::Trend) => {
            "decision_time"
        }
        _ => kind,
    }
}

fn groups_of(e: &DriftEvent) -> Vec<String> {
    match serde_json::from_str::<Evidence>(&e.evidence_json) {
        Ok(Evidence::PayerLevel { members }) => members.into_iter().map(|m| m.group).collect(),
        _ if !e.cpt_group.is_empty() && e.cpt_group != "*" => vec![e.cpt_group.clone()],
        _ => Vec::new(),
    }
}

/// Groups findings (already in display order: largest money first) into changes.
pub fn group_changes(events: Vec<DriftEvent>, limit: usize) -> Vec<TopChange> {
    let mut out: Vec<TopChange> = Vec::new();
    for e in events {
        let existing = out.iter_mut().find(|c| {
            c.lead.payer == e.payer
                && c.lead.direction == e.direction
                && change_family(&c.lead.kind) == change_family(&e.kind)
                // Two denial-rate findings of different CPT groups are different changes.
                && (change_family(&e.kind) == "decision_time" || c.lead.cpt_group == e.cpt_group)
        });
        match existing {
            Some(change) => {
                if change.lead.product != e.product && !change.also.contains(&e.product) {
                    change.also.push(e.product.clone());
                }
                for g in groups_of(&e) {
                    if !change.groups.contains(&g) {
                        change.groups.push(g);
                    }
                }
            }
            None => out.push(TopChange {
                groups: groups_of(&e),
                also: Vec::new(),
                lead: e,
            }),
        }
    }
    out.truncate(limit);
    out
}

/// The overview's top changes: the worse findings of each product's latest windows, the
/// largest money first, one entry per change.
pub fn top_changes(
    conn: &mut DbConnection,
    scope: &TenantScope,
    limit: usize,
) -> Result<Vec<TopChange>, DbError> {
    let events = repo::top_recent_events(conn, scope, CANDIDATES)?;
    Ok(group_changes(events, limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(product: &str, kind: &str, payer: &str, group: &str, evidence: &str) -> DriftEvent {
        DriftEvent {
            payer: payer.into(),
            evidence_json: evidence.into(),
            severity_label: "critical".into(),
            dollars_per_month: Some(1.0),
            ..DriftEvent::example(product, kind, group)
        }
    }

    #[test]
    fn one_slowdown_seen_by_two_products_is_one_change_with_its_groups() {
        let members = r#"{"type":"payer_level","members":[
            {"group":"IMAGING","baseline_value":0,"current_value":0,"delta":0,"p_value":null,"q_value":null,"dollars_per_month":null,"baseline_n":0,"current_n":0},
            {"group":"LAB","baseline_value":0,"current_value":0,"delta":0,"p_value":null,"q_value":null,"dollars_per_month":null,"baseline_n":0,"current_n":0}]}"#;
        let events = vec![
            event("drift_watch", "decision_time", "Humana", "*", members),
            event("delay_guard", "slowdown", "Humana", "", "{}"),
            event("drift_watch", "denial_rate", "Cigna", "IMAGING", "{}"),
            event("drift_watch", "denial_rate", "Cigna", "LAB", "{}"),
            event(
                "denial_scope",
                "reason_share_spike",
                "UnitedHealthcare",
                "CO-197",
                "{}",
            ),
        ];
        let top = group_changes(events, 5);
        assert_eq!(top.len(), 4, "{top:?}");
        assert_eq!(top[0].lead.payer, "Humana");
        assert_eq!(top[0].also, ["delay_guard"]);
        assert_eq!(top[0].groups, ["IMAGING", "LAB"]);
        assert_eq!(top[1].groups, ["IMAGING"]);
        assert_eq!(top[2].groups, ["LAB"]);
        assert_eq!(
            group_changes(top.into_iter().map(|c| c.lead).collect(), 2).len(),
            2
        );
    }
}
