//! Alert rules edited in place, archived and restored, never deleted (SPEC §5, issue 19
//! item 8), on both databases: kinds from the product's list, payer and group pickers with
//! only the tenant's own, a refused form re-rendered (400) with the message beside the
//! field and the values kept; admins only, CSRF, another tenant's rule looks absent.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use payerwatch::db::repo::alerts as repo;
use payerwatch::db::repo::analytics::{self as analytics, NewDriftEvent};
use payerwatch::db::schema::{alert_events, alert_rules, audit_events};
use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::TenantScope;
use payerwatch::notify::alerting;

use crate::common::{TestApp, load_generated_claims, new_client, spawn_app};

const RULES: &str = "/portal/settings/rules";

fn rule_named(app: &TestApp, scope: &TenantScope, name: &str) -> repo::AlertRule {
    let mut conn = app.db.get().expect("conn");
    repo::list_rules(&mut conn, scope)
        .expect("rules")
        .into_iter()
        .find(|r| r.name == name)
        .expect("rule stored")
}

fn start_run(app: &TestApp, scope: &TenantScope) -> i64 {
    let mut conn = app.db.get().expect("conn");
    analytics::start_run(
        &mut conn,
        scope,
        &analytics::NewRun {
            product: "drift_watch",
            mode: "sound",
            trigger: "test",
            parameters_json: "{}",
            lease_until: payerwatch::db::repo::now() + chrono::Duration::minutes(5),
            job_id: None,
        },
    )
    .expect("run")
}

/// A critical, worse DriftWatch denial-rate finding for Cigna / IMAGING ending on `day`
/// (of run `run`), put through the alerting as a run would; returns the alerts of rule
/// `rule_id` after it.
fn raise_finding(app: &TestApp, scope: &TenantScope, run: i64, day: u32, rule_id: i64) -> i64 {
    let mut conn = app.db.get().expect("conn");
    let end = chrono::NaiveDate::from_ymd_opt(2026, 6, day).expect("date");
    let event = NewDriftEvent {
        customer_id: scope.id(),
        run_id: run,
        product: "drift_watch".into(),
        mode: "sound".into(),
        kind: "denial_rate".into(),
        payer: "Cigna".into(),
        cpt_group: "IMAGING".into(),
        direction: "worse".into(),
        baseline_value: 0.11,
        current_value: 0.45,
        delta: 0.34,
        ci_low: Some(0.2),
        ci_high: Some(0.45),
        p_value: Some(1e-9),
        q_value: Some(1e-8),
        severity: 0.9,
        severity_label: "critical".into(),
        confidence: None,
        baseline_n: 600,
        current_n: 100,
        baseline_start: end - chrono::Duration::days(104),
        baseline_end: end - chrono::Duration::days(14),
        current_start: end - chrono::Duration::days(14),
        current_end: end,
        evidence_json: "{}".into(),
        continuing: false,
        first_event_id: None,
        created_at: payerwatch::db::repo::now(),
        dollars_per_month: None,
    };
    let id = analytics::insert_event_once(&mut conn, scope, &event)
        .expect("event")
        .expect("new");
    alerting::raise_alerts(&mut conn, scope, id, &event, payerwatch::db::repo::now())
        .expect("alerts");
    alert_events::table
        .filter(alert_events::rule_id.eq(rule_id))
        .count()
        .get_result(&mut conn)
        .expect("count")
}

fn audit_actions(app: &TestApp, rule_id: i64) -> Vec<String> {
    let mut conn = app.db.get().expect("conn");
    audit_events::table
        .filter(audit_events::target_type.eq("alert_rule"))
        .filter(audit_events::target_id.eq(rule_id.to_string()))
        .order(audit_events::id.asc())
        .select(audit_events::action)
        .load(&mut conn)
        .expect("audit")
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let res = app.get(path).await;
    let status = res.status().as_u16();
    (status, res.text().await.expect("body"))
}

async fn admin(app: &TestApp) -> TenantScope {
    let pw = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    app.login("admin@clinic.test", &pw).await;
    app.scope_of("clinic")
}

#[actix_web::test]
async fn a_rule_is_edited_in_place_archived_and_restored_never_deleted() {
    let app = spawn_app().await;
    let scope = admin(&app).await;
    app.get(RULES).await;
    let res = app
        .post_form(
            RULES,
            RULES,
            &[
                ("action", "create"),
                ("name", "Every denial change"),
                ("product", "drift_watch"),
                ("kind", "denial_rate"),
                ("direction", ""),
                ("min_severity", "low"),
                ("channels", "none"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let rule = rule_named(&app, &scope, "Every denial change");
    let run = start_run(&app, &scope);
    assert_eq!(
        raise_finding(&app, &scope, run, 1, rule.id),
        1,
        "the rule matches"
    );
    let alert_before: (i64, String) = {
        let mut conn = app.db.get().expect("conn");
        alert_events::table
            .filter(alert_events::rule_id.eq(rule.id))
            .select((alert_events::id, alert_events::title))
            .first(&mut conn)
            .expect("alert")
    };

    // The edit form is the rule filled in.
    let (status, html) = page(&app, &format!("{RULES}?edit={}", rule.id)).await;
    assert_eq!(status, 200);
    assert!(html.contains("<h2>Edit rule</h2>"), "{html}");
    assert!(html.contains("value=\"Every denial change\""));
    assert!(html.contains("<option value=\"denial_rate\" selected>denial rate</option>"));
    assert!(html.contains(&format!(
        "name=\"action\" value=\"update\"><input type=\"hidden\" name=\"rule_id\" value=\"{}\"",
        rule.id
    )));

    // Every field changes in place: same id, audited.
    let id = rule.id.to_string();
    let res = app
        .post_form(
            RULES,
            RULES,
            &[
                ("action", "update"),
                ("rule_id", &id),
                ("name", "Slow decisions, big money"),
                ("product", "delay_guard"),
                ("kind", "slowdown"),
                ("direction", "worse"),
                ("min_severity", "high"),
                ("min_dollars_per_month", "$2,500"),
                ("min_days_delta", "3"),
                ("channels", "all"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let edited = rule_named(&app, &scope, "Slow decisions, big money");
    assert_eq!(edited.id, rule.id, "edited in place");
    assert_eq!(
        (
            edited.product.as_deref(),
            edited.kind.as_deref(),
            edited.direction.as_deref(),
            edited.min_severity.as_deref(),
            edited.min_dollars_per_month,
            edited.min_days_delta,
            edited.channel_ids.as_str(),
        ),
        (
            Some("delay_guard"),
            Some("slowdown"),
            Some("worse"),
            Some("high"),
            Some(2_500.0),
            Some(3.0),
            ""
        )
    );
    let (_, html) = page(&app, RULES).await;
    assert!(html.contains("Slow decisions, big money"));
    assert!(html.contains("severity at least high, at least $2,500 a month"));
    // The alert it raised keeps its rule and its words.
    let alert_after: (i64, String) = {
        let mut conn = app.db.get().expect("conn");
        alert_events::table
            .filter(alert_events::rule_id.eq(rule.id))
            .select((alert_events::id, alert_events::title))
            .first(&mut conn)
            .expect("alert")
    };
    assert_eq!(alert_after, alert_before);

    // Back to a rule that matches, then archived: it raises nothing and is listed apart.
    let res = app
        .post_form(
            RULES,
            RULES,
            &[
                ("action", "update"),
                ("rule_id", &id),
                ("name", "Every denial change"),
                ("product", "drift_watch"),
                ("kind", "denial_rate"),
                ("direction", ""),
                ("min_severity", "low"),
                ("channels", "none"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(raise_finding(&app, &scope, run, 2, rule.id), 2);
    let res = app
        .post_form(RULES, RULES, &[("action", "archive"), ("rule_id", &id)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        raise_finding(&app, &scope, run, 3, rule.id),
        2,
        "an archived rule raises no alerts"
    );
    let (_, html) = page(&app, RULES).await;
    let archived_at = html.find("<h2>Archived rules</h2>").expect("listed apart");
    let row = html.find("Every denial change").expect("listed");
    assert!(
        row > archived_at,
        "the archived rule is in the archived list"
    );
    assert!(html.contains("aria-label=\"Restore Every denial change\""));

    // Restored, it matches again.
    let res = app
        .post_form(RULES, RULES, &[("action", "restore"), ("rule_id", &id)])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(raise_finding(&app, &scope, run, 4, rule.id), 3);
    let (_, html) = page(&app, RULES).await;
    assert!(!html.contains("<h2>Archived rules</h2>"));

    assert_eq!(
        audit_actions(&app, rule.id),
        [
            "rule.created",
            "rule.changed",
            "rule.changed",
            "rule.archived",
            "rule.restored"
        ]
    );
    // No hard delete, even in SQL.
    let mut conn = app.db.get().expect("conn");
    assert!(
        conn.batch_execute(&format!("DELETE FROM alert_rules WHERE id = {}", rule.id))
            .is_err(),
        "rules cannot be deleted"
    );
    let still: i64 = alert_rules::table
        .filter(alert_rules::id.eq(rule.id))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(still, 1);
}

#[actix_web::test]
async fn a_refused_rule_form_says_why_beside_the_field_and_keeps_the_values() {
    let app = spawn_app().await;
    let scope = admin(&app).await;
    app.get(RULES).await;
    let before = {
        let mut conn = app.db.get().expect("conn");
        repo::list_rules(&mut conn, &scope).expect("rules").len()
    };
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: [Case; 5] = [
        (
            &[("kind", "denial_ratee")],
            "r-kind-error",
            "Choose a kind from the list",
        ),
        (
            &[("product", "delay_guard"), ("kind", "denial_rate")],
            "r-kind-error",
            "That kind is not one of DelayGuard&#39;s",
        ),
        (
            &[("payer", "Someone Else's Payer")],
            "r-payer-error",
            "Choose one of your payers from the list",
        ),
        (
            &[("cpt_group", "NOT_A_GROUP")],
            "r-group-error",
            "Choose one of your CPT groups or denial reasons",
        ),
        (
            &[("min_dollars_per_month", "lots")],
            "r-min-dollars-error",
            "min_dollars_per_month must be a number of 0 or more",
        ),
    ];
    for (fields, error_id, message) in cases {
        let mut form = vec![
            ("action", "create"),
            ("name", "Kept name"),
            ("min_severity", "critical"),
            ("min_rate_delta_points", "7"),
        ];
        form.extend_from_slice(fields);
        let res = app.post_form(RULES, RULES, &form).await;
        assert_eq!(res.status(), 400, "{fields:?}");
        let html = res.text().await.expect("body");
        let at = html
            .find(&format!("<p class=\"field-error\" id=\"{error_id}\">"))
            .unwrap_or_else(|| panic!("{error_id} in {html}"));
        assert!(
            html[at..].starts_with(&format!(
                "<p class=\"field-error\" id=\"{error_id}\">{message}"
            )),
            "{}",
            &html[at..at + 200]
        );
        assert!(html.contains("value=\"Kept name\""), "values kept");
        assert!(html.contains("value=\"7\""), "values kept");
        assert!(html.contains("<option value=\"critical\" selected>"));
    }
    // A name that looks like PHI is refused beside the field and not echoed back.
    let res = app
        .post_form(
            RULES,
            RULES,
            &[
                ("action", "create"),
                ("name", "Patient SSN 123-45-6789"),
                ("min_severity", "high"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.expect("body");
    assert!(html.contains("<p class=\"field-error\" id=\"r-name-error\">The name looks like it contains patient information"));
    assert!(!html.contains("123-45-6789"), "PHI not echoed");
    let mut conn = app.db.get().expect("conn");
    assert_eq!(
        repo::list_rules(&mut conn, &scope).expect("rules").len(),
        before,
        "nothing stored"
    );
    let phi_audits: i64 = audit_events::table
        .filter(audit_events::action.eq("rule.created"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(phi_audits, 0, "no audit row for a refused change");
}

#[actix_web::test]
async fn the_pickers_list_only_the_tenants_own_payers_and_groups() {
    let app = spawn_app().await;
    let scope = admin(&app).await;
    load_generated_claims(
        &app.db,
        &scope,
        &GenOptions {
            rows: 3_000,
            ..GenOptions::default()
        },
    );
    let other_pw = app.create_user("Other", "admin@other.test", Role::Admin, false);
    let (_, html) = page(&app, RULES).await;
    assert!(
        html.contains("<option value=\"Cigna\">Cigna</option>"),
        "{html}"
    );
    assert!(html.contains("<option value=\"IMAGING\">IMAGING</option>"));
    assert!(
        html.contains(
            "<optgroup label=\"DelayGuard\"><option value=\"slowdown\">slowdown</option>"
        )
    );
    let res = app
        .post_form(
            RULES,
            RULES,
            &[
                ("action", "create"),
                ("name", "Cigna imaging"),
                ("payer", "Cigna"),
                ("cpt_group", "IMAGING"),
                ("min_severity", "medium"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(
        rule_named(&app, &scope, "Cigna imaging").payer.as_deref(),
        Some("Cigna")
    );

    // The other tenant has no claims: no Cigna offered, and naming it is refused.
    let other = new_client();
    app.login_with(&other, "admin@other.test", &other_pw).await;
    let html = app
        .get_with(&other, RULES)
        .await
        .text()
        .await
        .expect("body");
    assert!(
        !html.contains("value=\"Cigna\""),
        "another tenant's payer listed"
    );
    let res = app
        .post_form_with(
            &other,
            RULES,
            RULES,
            &[
                ("action", "create"),
                ("name", "Theirs"),
                ("payer", "Cigna"),
                ("min_severity", "medium"),
            ],
        )
        .await;
    assert_eq!(res.status(), 400);
}

#[actix_web::test]
async fn rule_changes_need_an_admin_a_token_and_a_rule_of_ones_own() {
    let app = spawn_app().await;
    let scope = admin(&app).await;
    app.get(RULES).await;
    let rule = {
        let mut conn = app.db.get().expect("conn");
        repo::list_rules(&mut conn, &scope).expect("rules")[0].clone()
    };
    let id = rule.id.to_string();
    let update = [
        ("action", "update"),
        ("rule_id", id.as_str()),
        ("name", "Taken over"),
        ("min_severity", "low"),
    ];

    // Another tenant's admin: the rule looks absent.
    let other_pw = app.create_user("Other", "admin@other.test", Role::Admin, false);
    let other = new_client();
    app.login_with(&other, "admin@other.test", &other_pw).await;
    assert_eq!(
        app.get_with(&other, &format!("{RULES}?edit={id}"))
            .await
            .status(),
        404
    );
    for fields in [
        &update[..],
        &[("action", "archive"), ("rule_id", id.as_str())][..],
        &[("action", "restore"), ("rule_id", id.as_str())][..],
    ] {
        let res = app.post_form_with(&other, RULES, RULES, fields).await;
        assert_eq!(res.status(), 404, "{fields:?}");
    }

    // An analyst of the tenant: 403.
    let analyst_pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let analyst = new_client();
    app.login_with(&analyst, "analyst@clinic.test", &analyst_pw)
        .await;
    assert_eq!(
        app.get_with(&analyst, &format!("{RULES}?edit={id}"))
            .await
            .status(),
        403
    );
    // SPEC §10: the rules page is an admin's; an analyst neither reads it nor sees its link.
    assert_eq!(app.get_with(&analyst, RULES).await.status(), 403);
    let overview = app
        .get_with(&analyst, "/portal")
        .await
        .text()
        .await
        .expect("overview");
    assert!(
        !overview.contains("href=\"/portal/settings/rules\""),
        "{overview}"
    );
    for fields in [
        &update[..],
        &[("action", "archive"), ("rule_id", id.as_str())][..],
    ] {
        let res = app.post_form_with(&analyst, RULES, RULES, fields).await;
        assert_eq!(res.status(), 403, "{fields:?}");
    }

    // The admin without the CSRF token: refused.
    let res = app
        .client
        .post(app.url(RULES))
        .form(&[("action", "archive"), ("rule_id", id.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 403);
    assert_eq!(
        app.get(&format!("{RULES}?edit=abc")).await.status(),
        400,
        "edit must be a number"
    );

    let now = {
        let mut conn = app.db.get().expect("conn");
        repo::find_rule(&mut conn, &scope, rule.id).expect("rule")
    };
    assert_eq!(now.name, rule.name, "unchanged");
    assert!(now.archived_at.is_none(), "not archived");
    assert!(audit_actions(&app, rule.id).is_empty());
}
