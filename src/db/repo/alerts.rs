//! Alert rules, alert events (append-only: no update or delete function exists here),
//! their status history and operator judgments. `alert_current_status` mirrors each
//! alert's newest history row (written with it) so lists page in SQL.

use chrono::NaiveDateTime;
use diesel::dsl::{count, max};
use diesel::prelude::*;

use crate::db::schema::{
    alert_current_status, alert_events, alert_judgments, alert_rules, alert_status_history,
    customers, drift_events, users,
};
use crate::db::{DbConnection, DbError};
use crate::domain::alert_work::{AlertSort, AssigneeFilter, NOT_JUDGED};
use crate::domain::alerts::{AlertStatus, Comparison, Conditions, Metric, RuleSpec};
use crate::domain::tenant::TenantScope;
use crate::on_backend;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alert_rules)]
pub struct AlertRule {
    pub id: i64,
    pub customer_id: i64,
    pub name: String,
    pub payer: Option<String>,
    pub cpt_group: Option<String>,
    pub product: Option<String>,
    pub kind: Option<String>,
    pub direction: Option<String>,
    pub metric: String,
    pub comparison: String,
    pub threshold: f64,
    pub channel_ids: String,
    pub enabled: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
    pub min_severity: Option<String>,
    pub min_dollars_per_month: Option<f64>,
    pub min_rate_delta_points: Option<f64>,
    pub min_days_delta: Option<f64>,
    /// Set when the rule was archived: it matches nothing and is listed apart until
    /// restored (rules are never deleted).
    pub archived_at: Option<NaiveDateTime>,
}

impl AlertRule {
    /// Whether the rule raises alerts: enabled and not archived.
    pub fn is_active(&self) -> bool {
        self.enabled && self.archived_at.is_none()
    }

    /// The rule's sound-mode conditions (none when `min_severity` is unset).
    pub fn conditions(&self) -> Conditions {
        Conditions {
            min_severity: self.min_severity.as_deref().and_then(|l| l.parse().ok()),
            min_dollars_per_month: self.min_dollars_per_month,
            min_rate_delta_points: self.min_rate_delta_points,
            min_days_delta: self.min_days_delta,
        }
    }

    pub fn spec(&self) -> RuleSpec {
        RuleSpec {
            payer: self.payer.clone(),
            cpt_group: self.cpt_group.clone(),
            product: self.product.clone(),
            kind: self.kind.clone(),
            direction: self.direction.clone(),
            metric: Metric::parse(&self.metric).unwrap_or(Metric::Severity),
            comparison: Comparison::parse(&self.comparison).unwrap_or(Comparison::Gte),
            threshold: self.threshold,
            enabled: self.is_active(),
            conditions: self.conditions(),
        }
    }
}

/// A default rule: name, product, kind (None = any), minimum severity.
pub struct DefaultRule {
    pub name: &'static str,
    pub product: &'static str,
    pub kind: Option<&'static str>,
    pub min_severity: f64,
}

/// The rules a new tenant starts with — one alert per real change, not one per view of
/// it: denial rates getting worse (medium and above: in sound mode a finding is already
/// significant and above the effect floor), denial reasons and decision slowdowns getting
/// worse (high and above). Decision-time findings per CPT group have no default rule:
/// DelayGuard already alerts once per payer for the same slowdown.
pub const DEFAULT_RULES: [DefaultRule; 3] = [
    DefaultRule {
        name: "DriftWatch: denial rate worse (medium and above)",
        product: "drift_watch",
        kind: Some("denial_rate"),
        min_severity: 0.4,
    },
    DefaultRule {
        name: "DenialScope: denials worse (high and above)",
        product: "denial_scope",
        kind: None,
        min_severity: 0.7,
    },
    DefaultRule {
        name: "DelayGuard: decisions slower (high and above)",
        product: "delay_guard",
        kind: None,
        min_severity: 0.7,
    },
];

/// The data-quality rule a new tenant starts with (SPEC §3: a score below 90 raises a
/// data-quality alert).
pub const DEFAULT_QUALITY_RULE: (&str, f64) = ("Data quality: upload scored below 90", 90.0);

pub fn list_rules(conn: &mut DbConnection, scope: &TenantScope) -> Result<Vec<AlertRule>, DbError> {
    Ok(alert_rules::table
        .filter(alert_rules::customer_id.eq(scope.id()))
        .order(alert_rules::id.asc())
        .select(AlertRule::as_select())
        .load(conn)?)
}

/// Creates the default rules the first time a tenant's rules are needed. Rules are never
/// deleted (only disabled or archived), so "no rules" means "never set up".
pub fn ensure_default_rules(
    conn: &mut DbConnection,
    scope: &TenantScope,
) -> Result<Vec<AlertRule>, DbError> {
    let existing = list_rules(conn, scope)?;
    if !existing.is_empty() {
        return Ok(existing);
    }
    let now = super::now();
    for rule in DEFAULT_RULES {
        let spec = RuleSpec::default();
        diesel::insert_into(alert_rules::table)
            .values((
                alert_rules::customer_id.eq(scope.id()),
                alert_rules::name.eq(rule.name),
                alert_rules::product.eq(Some(rule.product)),
                alert_rules::kind.eq(rule.kind),
                alert_rules::direction.eq(spec.direction.clone()),
                alert_rules::metric.eq(spec.metric.as_str()),
                alert_rules::comparison.eq(spec.comparison.as_str()),
                alert_rules::threshold.eq(rule.min_severity),
                alert_rules::enabled.eq(true),
                alert_rules::created_at.eq(now),
                alert_rules::updated_at.eq(now),
            ))
            .execute(conn)?;
    }
    let (name, threshold) = DEFAULT_QUALITY_RULE;
    diesel::insert_into(alert_rules::table)
        .values((
            alert_rules::customer_id.eq(scope.id()),
            alert_rules::name.eq(name),
            alert_rules::product.eq(Some(crate::domain::alerts::DATA_QUALITY)),
            alert_rules::kind.eq(Some(crate::domain::alerts::QUALITY_KIND)),
            alert_rules::metric.eq(Metric::QualityScore.as_str()),
            alert_rules::comparison.eq(Comparison::Lt.as_str()),
            alert_rules::threshold.eq(threshold),
            alert_rules::enabled.eq(true),
            alert_rules::created_at.eq(now),
            alert_rules::updated_at.eq(now),
        ))
        .execute(conn)?;
    list_rules(conn, scope)
}

pub fn cooldown_minutes(conn: &mut DbConnection, scope: &TenantScope) -> Result<i64, DbError> {
    Ok(customers::table
        .find(scope.id())
        .select(customers::alert_cooldown_minutes)
        .first(conn)?)
}

/// Alerts of one key (product, kind, payer, cpt_group) of the tenant.
fn of_key<'a>(
    scope: &TenantScope,
    key: (&'a str, &'a str, &'a str, &'a str),
) -> alert_events::BoxedQuery<'a, <DbConnection as diesel::Connection>::Backend> {
    let (product, kind, payer, group) = key;
    alert_events::table
        .filter(alert_events::customer_id.eq(scope.id()))
        .filter(alert_events::product.eq(product))
        .filter(alert_events::kind.eq(kind))
        .filter(alert_events::payer.eq(payer))
        .filter(alert_events::cpt_group.eq(group))
        .into_boxed()
}

/// The newest alert of a key that was sent (not suppressed).
pub fn last_sent_at(
    conn: &mut DbConnection,
    scope: &TenantScope,
    key: (&str, &str, &str, &str),
) -> Result<Option<NaiveDateTime>, DbError> {
    Ok(of_key(scope, key)
        .filter(alert_events::initial_status.eq("open"))
        .select(max(alert_events::created_at))
        .first(conn)?)
}

/// Distinct alerts of a key created since `since` that someone judged noise.
pub fn noise_judgments_since(
    conn: &mut DbConnection,
    scope: &TenantScope,
    key: (&str, &str, &str, &str),
    since: NaiveDateTime,
) -> Result<u32, DbError> {
    let judged_noise = alert_judgments::table
        .filter(alert_judgments::verdict.eq("noise"))
        .select(alert_judgments::alert_id);
    let n: i64 = of_key(scope, key)
        .filter(alert_events::created_at.ge(since))
        .filter(alert_events::id.eq_any(judged_noise))
        .select(count(alert_events::id).aggregate_distinct())
        .first(conn)?;
    Ok(u32::try_from(n).unwrap_or(u32::MAX))
}

#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = alert_events)]
pub struct NewAlert {
    pub customer_id: i64,
    pub drift_event_id: Option<i64>,
    pub upload_id: Option<i64>,
    pub rule_id: i64,
    pub product: String,
    pub kind: String,
    pub payer: String,
    pub cpt_group: String,
    pub severity: f64,
    pub severity_label: String,
    pub title: String,
    pub payload_json: String,
    pub initial_status: String,
    pub suppression_json: Option<String>,
    pub created_at: NaiveDateTime,
}

/// Records a new alert with its first history row.
pub fn insert_alert(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert: &NewAlert,
) -> Result<i64, DbError> {
    if alert.customer_id != scope.id() {
        return Err(DbError::ForeignKey);
    }
    let id = on_backend!(conn, c => diesel::insert_into(alert_events::table)
        .values(alert)
        .returning(alert_events::id)
        .get_result::<i64>(c))?;
    diesel::insert_into(alert_current_status::table)
        .values((
            alert_current_status::alert_id.eq(id),
            alert_current_status::customer_id.eq(alert.customer_id),
            alert_current_status::status.eq(&alert.initial_status),
        ))
        .execute(conn)?;
    diesel::insert_into(alert_status_history::table)
        .values((
            alert_status_history::alert_id.eq(id),
            alert_status_history::status.eq(&alert.initial_status),
            alert_status_history::created_at.eq(alert.created_at),
        ))
        .execute(conn)?;
    Ok(id)
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = alert_events)]
pub struct AlertEvent {
    pub id: i64,
    pub customer_id: i64,
    pub drift_event_id: Option<i64>,
    pub upload_id: Option<i64>,
    pub rule_id: i64,
    pub product: String,
    pub kind: String,
    pub payer: String,
    pub cpt_group: String,
    pub severity: f64,
    pub severity_label: String,
    pub title: String,
    pub payload_json: String,
    pub initial_status: String,
    pub suppression_json: Option<String>,
    pub created_at: NaiveDateTime,
}

/// An alert with its current status (the newest history row).
#[derive(Debug, Clone)]
pub struct AlertWithStatus {
    pub alert: AlertEvent,
    pub status: String,
}

/// One alert of the tenant with its current status, read from `alert_current_status` —
/// the same source as the list, so the page and the list can never disagree.
pub fn find_alert(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<AlertWithStatus, DbError> {
    use alert_current_status as cs;
    let (alert, status) = alert_events::table
        .inner_join(cs::table.on(cs::alert_id.eq(alert_events::id)))
        .filter(alert_events::customer_id.eq(scope.id()))
        .filter(cs::customer_id.eq(scope.id()))
        .filter(alert_events::id.eq(id))
        .select((AlertEvent::as_select(), cs::status))
        .first(conn)?;
    Ok(AlertWithStatus { alert, status })
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct AlertFilter {
    pub status: Option<String>,
    pub severity: Option<String>,
    pub product: Option<String>,
    pub payer: Option<String>,
    /// A verdict someone gave (`real`, `noise`, `needs_follow_up`), or `none`: not judged.
    pub verdict: Option<String>,
    pub assignee: Option<AssigneeFilter>,
    /// The list's order (the CSV and the API keep newest first).
    pub sort: AlertSort,
}

/// Narrows an alert query (joined with `alert_current_status`) by every filter but the
/// status. A macro: the count and the page are queries of different types.
macro_rules! narrow {
    ($query:expr, $filter:expr) => {{
        let filter: &AlertFilter = $filter;
        let mut q = $query;
        if let Some(sev) = &filter.severity {
            q = q.filter(alert_events::severity_label.eq(sev.clone()));
        }
        if let Some(product) = &filter.product {
            q = q.filter(alert_events::product.eq(product.clone()));
        }
        if let Some(payer) = &filter.payer {
            q = q.filter(alert_events::payer.eq(payer.clone()));
        }
        match filter.verdict.as_deref() {
            None => {}
            Some(NOT_JUDGED) => {
                q = q
                    .filter(diesel::dsl::not(alert_events::id.eq_any(
                        alert_judgments::table.select(alert_judgments::alert_id),
                    )))
            }
            Some(v) => {
                q = q.filter(
                    alert_events::id.eq_any(
                        alert_judgments::table
                            .filter(alert_judgments::verdict.eq(v.to_string()))
                            .select(alert_judgments::alert_id),
                    ),
                )
            }
        }
        match filter.assignee {
            None => {}
            Some(AssigneeFilter::Unassigned) => {
                q = q.filter(alert_current_status::assignee_user_id.is_null())
            }
            Some(AssigneeFilter::User(id)) => {
                q = q.filter(alert_current_status::assignee_user_id.eq(id))
            }
        }
        q
    }};
}

/// One batch of the alerts export: the alerts matching `filter` (its sort aside: newest
/// first), strictly before `before` = (created_at, id) of the last row already written,
/// at most `limit`. Keyset batches, so an export holds one batch in memory however many
/// alerts the tenant has, and alerts raised while it runs neither shift nor repeat rows
/// (issue 16 row 10).
pub fn export_batch(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: &AlertFilter,
    before: Option<(NaiveDateTime, i64)>,
    limit: i64,
) -> Result<Vec<AlertWithStatus>, DbError> {
    use alert_current_status as cs;
    let mut query = narrow!(
        alert_events::table
            .inner_join(cs::table.on(cs::alert_id.eq(alert_events::id)))
            .filter(alert_events::customer_id.eq(scope.id()))
            .filter(cs::customer_id.eq(scope.id()))
            .into_boxed(),
        filter
    );
    if let Some(status) = &filter.status {
        query = query.filter(cs::status.eq(status.clone()));
    }
    if let Some((at, id)) = before {
        query = query.filter(
            alert_events::created_at
                .lt(at)
                .or(alert_events::created_at.eq(at).and(alert_events::id.lt(id))),
        );
    }
    let rows: Vec<(AlertEvent, String)> = query
        .order((alert_events::created_at.desc(), alert_events::id.desc()))
        .limit(limit.max(0))
        .select((AlertEvent::as_select(), cs::status))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(alert, status)| AlertWithStatus { alert, status })
        .collect())
}

/// How many alerts are in each current status.
pub type StatusCounts = Vec<(String, i64)>;

/// Alerts newest first with their current status, filtered, one page at a time — the
/// filter, the count and the page are SQL (`LIMIT`/`OFFSET`), so a tenant with many alerts
/// costs one page of rows. The status counts ignore the status filter (they label its
/// choices).
pub fn list_alerts(
    conn: &mut DbConnection,
    scope: &TenantScope,
    filter: &AlertFilter,
    page: i64,
    per_page: i64,
) -> Result<(super::Page<AlertWithStatus>, StatusCounts), DbError> {
    use alert_current_status as cs;
    let joined = || {
        alert_events::table
            .inner_join(cs::table.on(cs::alert_id.eq(alert_events::id)))
            .filter(alert_events::customer_id.eq(scope.id()))
            .filter(cs::customer_id.eq(scope.id()))
    };
    // Grouped before boxing (diesel cannot infer a boxed query's grouping).
    let grouped = narrow!(
        joined()
            .group_by(cs::status)
            .select((cs::status, diesel::dsl::count_star()))
            .order(cs::status.asc())
            .into_boxed(),
        filter
    );
    // Money lives on the finding; data-quality alerts have none (sorted last).
    let mut listed = narrow!(
        joined()
            .left_join(
                drift_events::table
                    .on(drift_events::id.nullable().eq(alert_events::drift_event_id)),
            )
            .into_boxed(),
        filter
    );
    let counts: Vec<(String, i64)> = grouped.load(conn)?;
    if let Some(status) = &filter.status {
        listed = listed.filter(cs::status.eq(status.clone()));
    }
    // The total is the matching status's count (or all of them): no second scan.
    let total = counts
        .iter()
        .filter(|(s, _)| filter.status.as_deref().is_none_or(|f| f == s))
        .map(|(_, n)| n)
        .sum();
    // Every order ends on the id, so pages never overlap or skip ties.
    listed = match filter.sort {
        AlertSort::Newest => {
            listed.order((alert_events::created_at.desc(), alert_events::id.desc()))
        }
        AlertSort::Oldest => listed.order((alert_events::created_at.asc(), alert_events::id.asc())),
        AlertSort::Money => listed.order((
            drift_events::dollars_per_month.is_null().asc(),
            drift_events::dollars_per_month.desc(),
            alert_events::id.desc(),
        )),
        AlertSort::Severity => listed.order((
            alert_events::severity.desc(),
            alert_events::created_at.desc(),
            alert_events::id.desc(),
        )),
        AlertSort::Due => listed.order((
            cs::due_on.is_null().asc(),
            cs::due_on.asc(),
            alert_events::created_at.asc(),
            alert_events::id.asc(),
        )),
    };
    let rows: Vec<(AlertEvent, String)> = listed
        .limit(per_page.max(0))
        .offset(super::offset(page, per_page))
        .select((AlertEvent::as_select(), cs::status))
        .load(conn)?;
    let items = rows
        .into_iter()
        .map(|(alert, status)| AlertWithStatus { alert, status })
        .collect();
    Ok((
        super::Page {
            items,
            page,
            per_page,
            total,
        },
        counts,
    ))
}

/// A payer's unresolved alerts (open or acknowledged), newest first, at most `limit`: the
/// scorecard's list. One statement — the list's count and status tallies are not needed,
/// and one `status IN (…)` page replaces a count and a page per status.
pub fn unresolved_of_payer(
    conn: &mut DbConnection,
    scope: &TenantScope,
    payer: &str,
    limit: i64,
) -> Result<Vec<AlertWithStatus>, DbError> {
    use alert_current_status as cs;
    let rows: Vec<(AlertEvent, String)> = alert_events::table
        .inner_join(cs::table.on(cs::alert_id.eq(alert_events::id)))
        .filter(alert_events::customer_id.eq(scope.id()))
        .filter(cs::customer_id.eq(scope.id()))
        .filter(cs::status.eq_any(AlertStatus::UNRESOLVED_NAMES))
        .filter(alert_events::payer.eq(payer))
        .order((alert_events::created_at.desc(), alert_events::id.desc()))
        .limit(limit.max(0))
        .select((AlertEvent::as_select(), cs::status))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(alert, status)| AlertWithStatus { alert, status })
        .collect())
}

#[derive(Debug, Clone)]
pub struct HistoryRow {
    pub status: String,
    pub actor_email: Option<String>,
    pub created_at: NaiveDateTime,
}

pub fn history(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
) -> Result<Vec<HistoryRow>, DbError> {
    find_alert(conn, scope, alert_id)?;
    let rows: Vec<(String, Option<String>, NaiveDateTime)> = alert_status_history::table
        .left_join(users::table.on(users::id.nullable().eq(alert_status_history::actor_user_id)))
        .filter(alert_status_history::alert_id.eq(alert_id))
        .order(alert_status_history::id.asc())
        .select((
            alert_status_history::status,
            users::email.nullable(),
            alert_status_history::created_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(status, actor_email, created_at)| HistoryRow {
            status,
            actor_email,
            created_at,
        })
        .collect())
}

/// Appends a status change (the alert itself never changes).
pub fn append_status(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
    status: &str,
    actor: i64,
) -> Result<(), DbError> {
    find_alert(conn, scope, alert_id)?;
    diesel::insert_into(alert_status_history::table)
        .values((
            alert_status_history::alert_id.eq(alert_id),
            alert_status_history::status.eq(status),
            alert_status_history::actor_user_id.eq(Some(actor)),
            alert_status_history::created_at.eq(super::now()),
        ))
        .execute(conn)?;
    // The list filters and pages on the current status (same transaction).
    diesel::update(
        alert_current_status::table
            .filter(alert_current_status::customer_id.eq(scope.id()))
            .filter(alert_current_status::alert_id.eq(alert_id)),
    )
    .set(alert_current_status::status.eq(status))
    .execute(conn)?;
    Ok(())
}

#[derive(Debug, Clone)]
pub struct JudgmentRow {
    pub user_id: i64,
    pub email: String,
    pub verdict: String,
    pub note: Option<String>,
    pub updated_at: NaiveDateTime,
}

pub fn judgments(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
) -> Result<Vec<JudgmentRow>, DbError> {
    find_alert(conn, scope, alert_id)?;
    let rows: Vec<(i64, String, String, Option<String>, NaiveDateTime)> = alert_judgments::table
        .inner_join(users::table)
        .filter(alert_judgments::alert_id.eq(alert_id))
        .order(alert_judgments::updated_at.desc())
        .select((
            alert_judgments::user_id,
            users::email,
            alert_judgments::verdict,
            alert_judgments::note,
            alert_judgments::updated_at,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(user_id, email, verdict, note, updated_at)| JudgmentRow {
            user_id,
            email,
            verdict,
            note,
            updated_at,
        })
        .collect())
}

/// The newest verdict of each of `alert_ids` (of this tenant) that anyone judged: the
/// list shows it beside the status. One query for a page of alerts.
pub fn latest_verdicts(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_ids: &[i64],
) -> Result<std::collections::HashMap<i64, String>, DbError> {
    let rows: Vec<(i64, String)> = alert_judgments::table
        .inner_join(alert_events::table)
        .filter(alert_events::customer_id.eq(scope.id()))
        .filter(alert_judgments::alert_id.eq_any(alert_ids))
        .order((alert_judgments::updated_at.asc(), alert_judgments::id.asc()))
        .select((alert_judgments::alert_id, alert_judgments::verdict))
        .load(conn)?;
    // Ascending, so the newest judgment of an alert is inserted last and wins.
    Ok(rows.into_iter().collect())
}

/// One judgment per operator per alert; judging again replaces the verdict and note.
pub fn upsert_judgment(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
    user_id: i64,
    verdict: &str,
    note: Option<&str>,
) -> Result<bool, DbError> {
    find_alert(conn, scope, alert_id)?;
    let now = super::now();
    let updated = diesel::update(
        alert_judgments::table
            .filter(alert_judgments::alert_id.eq(alert_id))
            .filter(alert_judgments::user_id.eq(user_id)),
    )
    .set((
        alert_judgments::verdict.eq(verdict),
        alert_judgments::note.eq(note),
        alert_judgments::updated_at.eq(now),
    ))
    .execute(conn)?;
    if updated > 0 {
        return Ok(false);
    }
    diesel::insert_into(alert_judgments::table)
        .values((
            alert_judgments::alert_id.eq(alert_id),
            alert_judgments::user_id.eq(user_id),
            alert_judgments::verdict.eq(verdict),
            alert_judgments::note.eq(note),
            alert_judgments::created_at.eq(now),
            alert_judgments::updated_at.eq(now),
        ))
        .execute(conn)?;
    Ok(true)
}

pub struct NewRule {
    pub name: String,
    pub product: Option<String>,
    pub kind: Option<String>,
    pub payer: Option<String>,
    pub cpt_group: Option<String>,
    pub direction: Option<String>,
    pub metric: String,
    pub comparison: String,
    pub threshold: f64,
    /// `""` = every enabled channel, `"none"`, or comma-separated channel ids.
    pub channel_ids: String,
    pub conditions: Conditions,
}

/// The columns a person sets on a rule, written alike by `insert_rule` and `update_rule`
/// so a new field cannot be stored on create and forgotten on edit. A `None` is written as
/// NULL both ways (an edit clears what the form left empty).
#[derive(Insertable, AsChangeset)]
#[diesel(
    table_name = alert_rules,
    treat_none_as_null = true,
    treat_none_as_default_value = false
)]
struct RuleColumns<'a> {
    name: &'a str,
    product: Option<&'a str>,
    kind: Option<&'a str>,
    payer: Option<&'a str>,
    cpt_group: Option<&'a str>,
    direction: Option<&'a str>,
    metric: &'a str,
    comparison: &'a str,
    threshold: f64,
    channel_ids: &'a str,
    min_severity: Option<&'static str>,
    min_dollars_per_month: Option<f64>,
    min_rate_delta_points: Option<f64>,
    min_days_delta: Option<f64>,
}

impl NewRule {
    fn columns(&self) -> RuleColumns<'_> {
        RuleColumns {
            name: &self.name,
            product: self.product.as_deref(),
            kind: self.kind.as_deref(),
            payer: self.payer.as_deref(),
            cpt_group: self.cpt_group.as_deref(),
            direction: self.direction.as_deref(),
            metric: &self.metric,
            comparison: &self.comparison,
            threshold: self.threshold,
            channel_ids: &self.channel_ids,
            min_severity: self.conditions.min_severity.map(|l| l.as_str()),
            min_dollars_per_month: self.conditions.min_dollars_per_month,
            min_rate_delta_points: self.conditions.min_rate_delta_points,
            min_days_delta: self.conditions.min_days_delta,
        }
    }
}

pub fn insert_rule(
    conn: &mut DbConnection,
    scope: &TenantScope,
    rule: &NewRule,
) -> Result<i64, DbError> {
    ensure_default_rules(conn, scope)?;
    let now = super::now();
    Ok(
        on_backend!(conn, c => diesel::insert_into(alert_rules::table)
        .values((
            alert_rules::customer_id.eq(scope.id()),
            rule.columns(),
            alert_rules::enabled.eq(true),
            alert_rules::created_at.eq(now),
            alert_rules::updated_at.eq(now),
        ))
        .returning(alert_rules::id)
        .get_result::<i64>(c))?,
    )
}

/// Rewrites rule `id` in place (every field a person sets; its id, state and history
/// stay): alerts already raised keep pointing at it.
pub fn update_rule(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    rule: &NewRule,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        alert_rules.id = id,
        (rule.columns(), alert_rules::updated_at.eq(super::now()))
    )
}

/// Rule `id` of this tenant (`NotFound` for another tenant's id).
pub fn find_rule(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
) -> Result<AlertRule, DbError> {
    Ok(alert_rules::table
        .filter(alert_rules::customer_id.eq(scope.id()))
        .filter(alert_rules::id.eq(id))
        .select(AlertRule::as_select())
        .first(conn)?)
}

/// Archives rule `id` (`archived = true`: it stops matching and is listed apart) or
/// restores it. Rules are never deleted (a trigger refuses it on both backends).
pub fn set_rule_archived(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    archived: bool,
) -> Result<(), DbError> {
    let now = super::now();
    update_one!(
        conn,
        scope,
        alert_rules.id = id,
        (
            alert_rules::archived_at.eq(archived.then_some(now)),
            alert_rules::updated_at.eq(now),
        )
    )
}

/// Rules are disabled or archived, never deleted: alerts keep pointing at the rule that
/// raised them.
pub fn set_rule_enabled(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    enabled: bool,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        alert_rules.id = id,
        (
            alert_rules::enabled.eq(enabled),
            alert_rules::updated_at.eq(super::now()),
        )
    )
}

/// Sets which channels a rule's alerts go to.
pub fn set_rule_channels(
    conn: &mut DbConnection,
    scope: &TenantScope,
    id: i64,
    channel_ids: &str,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        alert_rules.id = id,
        (
            alert_rules::channel_ids.eq(channel_ids),
            alert_rules::updated_at.eq(super::now()),
        )
    )
}

/// Who works an alert and by when (its mutable working state, beside its status).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertWork {
    pub assignee_user_id: Option<i64>,
    pub due_on: Option<chrono::NaiveDate>,
}

/// The working state of each of `alert_ids` (of this tenant), for a page of the list.
pub fn work_of(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_ids: &[i64],
) -> Result<std::collections::HashMap<i64, AlertWork>, DbError> {
    let rows: Vec<(i64, Option<i64>, Option<chrono::NaiveDate>)> = alert_current_status::table
        .filter(alert_current_status::customer_id.eq(scope.id()))
        .filter(alert_current_status::alert_id.eq_any(alert_ids))
        .select((
            alert_current_status::alert_id,
            alert_current_status::assignee_user_id,
            alert_current_status::due_on,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(id, assignee_user_id, due_on)| {
            (
                id,
                AlertWork {
                    assignee_user_id,
                    due_on,
                },
            )
        })
        .collect())
}

pub fn find_work(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
) -> Result<AlertWork, DbError> {
    work_of(conn, scope, &[alert_id])?
        .remove(&alert_id)
        .ok_or(DbError::NotFound)
}

/// Sets (or clears) who works alert `alert_id`. The caller checked that the assignee is
/// a member of the tenant.
pub fn set_assignee(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
    assignee: Option<i64>,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        alert_current_status.alert_id = alert_id,
        alert_current_status::assignee_user_id.eq(assignee)
    )
}

/// Sets (or clears) the date alert `alert_id` is due.
pub fn set_due(
    conn: &mut DbConnection,
    scope: &TenantScope,
    alert_id: i64,
    due_on: Option<chrono::NaiveDate>,
) -> Result<(), DbError> {
    update_one!(
        conn,
        scope,
        alert_current_status.alert_id = alert_id,
        alert_current_status::due_on.eq(due_on)
    )
}
