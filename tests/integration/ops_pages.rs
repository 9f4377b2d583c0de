//! The staff metrics dashboard and the audit trail pages through HTTP: who may see them,
//! that the dashboard's per-route counts match the traffic sent, the sort parameter, the
//! audit filters, tenant isolation and the CSV export (formula-safe, itself audited).

use chrono::NaiveDate;
use payerwatch::db::repo::audit::NewAuditEvent;
use payerwatch::db::repo::{audit, users};
use payerwatch::db::schema::audit_events;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::TenantScope;

use crate::common::{TestApp, location, new_client, spawn_app};

async fn signed_in(
    app: &TestApp,
    customer: &str,
    email: &str,
    role: Role,
    staff: bool,
) -> reqwest::Client {
    let password = app.create_user(customer, email, role, staff);
    let client = new_client();
    let res = app.login_with(&client, email, &password).await;
    assert_eq!(res.status(), 303, "{email} signs in");
    client
}

/// The number in the count cell of the dashboard row `METHOD route`.
fn route_count(html: &str, method_and_route: &str) -> Option<u64> {
    let marker = format!("data-route=\"{method_and_route}\"");
    let row = &html[html.find(&marker)?..];
    let row = &row[..row.find("</tr>")?];
    let cell = &row[row.find("data-count>")? + "data-count>".len()..];
    cell[..cell.find('<')?].trim().parse().ok()
}

#[actix_web::test]
async fn metrics_dashboard_is_for_staff_only() {
    let app = spawn_app().await;
    let staff = signed_in(
        &app,
        "PayerWatch Ops",
        "ops@payerwatch.test",
        Role::Viewer,
        true,
    )
    .await;
    let owner = signed_in(
        &app,
        "Riverside Clinic",
        "owner@riverside.test",
        Role::Owner,
        false,
    )
    .await;

    let res = app.get_with(&staff, "/portal/admin/metrics").await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("page");
    assert!(html.contains("data-autorefresh=\"30\""));
    assert!(
        html.contains("per instance"),
        "says figures are per instance"
    );
    assert!(html.contains("<svg class=\"sparkline\""), "sparklines");
    assert!(html.contains("finding charts"), "chart cache listed");
    assert!(
        html.contains("href=\"/portal/admin/metrics\""),
        "nav has Metrics"
    );
    let backend = if app.database_url.starts_with("postgres") {
        "postgresql"
    } else {
        "sqlite"
    };
    assert!(html.contains(&format!(">{backend}<")), "backend shown");
    assert!(
        !html.contains("pw_test_") && !html.contains("payerwatch.db"),
        "never the database name"
    );

    let res = app.get_with(&owner, "/portal/admin/metrics").await;
    assert_eq!(res.status(), 403, "a tenant owner is not staff");
    let html = res.text().await.expect("page");
    assert!(
        !html.contains("href=\"/portal/admin/metrics\""),
        "no Metrics nav"
    );

    let res = app.get_with(&new_client(), "/portal/admin/metrics").await;
    assert_eq!(res.status(), 303);
    assert!(
        location(&res).starts_with("/login?next="),
        "{}",
        location(&res)
    );
}

#[actix_web::test]
async fn dashboard_counts_match_the_requests_sent_and_sort_is_checked() {
    let app = spawn_app().await;
    let staff = signed_in(
        &app,
        "PayerWatch Ops",
        "ops@payerwatch.test",
        Role::Viewer,
        true,
    )
    .await;
    const HEALTH: u64 = 17;
    const ALERTS: u64 = 6;
    for i in 0..HEALTH {
        let path = if i % 3 == 0 { "/healthz/" } else { "/healthz" };
        assert_eq!(app.get(path).await.status(), 200);
    }
    for id in 0..ALERTS {
        let res = app
            .get_with(&staff, &format!("/portal/alerts/{}", 9000 + id))
            .await;
        assert_eq!(res.status(), 404);
    }

    for sort in ["count", "route", "errors", "error_rate", "p50", "p95"] {
        let res = app
            .get_with(&staff, &format!("/portal/admin/metrics?sort={sort}"))
            .await;
        assert_eq!(res.status(), 200, "sort={sort}");
    }
    let html = app
        .get_with(&staff, "/portal/admin/metrics?sort=count")
        .await
        .text()
        .await
        .expect("page");
    assert_eq!(route_count(&html, "GET /healthz"), Some(HEALTH));
    assert_eq!(route_count(&html, "GET /portal/alerts/{id}"), Some(ALERTS));
    assert_eq!(
        route_count(&html, "GET /portal/admin/metrics"),
        Some(6),
        "the six earlier views; this one is recorded after it rendered"
    );
    assert!(!html.contains("/portal/alerts/9000"), "no raw paths");
    assert!(
        html.contains("404 client error"),
        "4xx has text, not colour alone"
    );

    let res = app
        .get_with(&staff, "/portal/admin/metrics?sort=DROP%20TABLE")
        .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.expect("page");
    assert!(
        body.contains("&#39;sort&#39;") || body.contains("'sort'"),
        "{body}"
    );
}

// ---- audit trail -------------------------------------------------------------------------

fn at(y: i32, m: u32, d: u32) -> chrono::NaiveDateTime {
    NaiveDate::from_ymd_opt(y, m, d)
        .and_then(|d| d.and_hms_opt(12, 0, 0))
        .expect("valid")
}

fn insert(
    app: &TestApp,
    scope: &TenantScope,
    when: chrono::NaiveDateTime,
    action: &str,
    actor: Option<i64>,
    target: &str,
) {
    let event = NewAuditEvent {
        occurred_at: when,
        customer_id: Some(scope.id()),
        actor_user_id: actor,
        action: action.to_string(),
        target_type: Some("mapping".to_string()),
        target_id: Some(target.to_string()),
        changed_fields: Some("alias,canonical".to_string()),
        client_addr: Some("203.0.0.0".to_string()),
        request_id: Some("req-audit-test".to_string()),
    };
    app.db
        .write_blocking(move |conn| audit::insert(conn, &event))
        .expect("audit event");
}

fn member(app: &TestApp, scope: &TenantScope, email: &str) -> i64 {
    let email = email.to_string();
    let scope = *scope;
    app.db
        .write_blocking(move |conn| {
            users::insert(
                conn,
                &scope,
                &users::CreateUser {
                    email: &email,
                    password_hash: "not-a-real-hash",
                    role: Role::Analyst,
                    is_staff: false,
                },
            )
        })
        .expect("member")
}

#[actix_web::test]
async fn audit_trail_roles_filters_and_tenant_isolation() {
    let app = spawn_app().await;
    let admin = signed_in(
        &app,
        "Riverside Clinic",
        "admin@riverside.test",
        Role::Admin,
        false,
    )
    .await;
    let owner = signed_in(
        &app,
        "Riverside Clinic",
        "owner@riverside.test",
        Role::Owner,
        false,
    )
    .await;
    let viewer = signed_in(
        &app,
        "Riverside Clinic",
        "viewer@riverside.test",
        Role::Viewer,
        false,
    )
    .await;
    let analyst = signed_in(
        &app,
        "Riverside Clinic",
        "analyst@riverside.test",
        Role::Analyst,
        false,
    )
    .await;
    let _other = signed_in(
        &app,
        "Lakeside Health",
        "admin@lakeside.test",
        Role::Admin,
        false,
    )
    .await;

    for (client, expected) in [
        (&viewer, 403),
        (&analyst, 403),
        (&admin, 200),
        (&owner, 200),
    ] {
        let res = app.get_with(client, "/portal/settings/audit").await;
        assert_eq!(res.status(), expected);
        let res = app.get_with(client, "/portal/settings/audit.csv").await;
        assert_eq!(res.status(), expected, "csv");
    }
    let res = app.get_with(&new_client(), "/portal/settings/audit").await;
    assert_eq!(res.status(), 303);

    let riverside = app.scope_of("riverside-clinic");
    let lakeside = app.scope_of("lakeside-health");
    let ann = member(&app, &riverside, "ann@riverside.test");
    insert(
        &app,
        &riverside,
        at(2020, 1, 1),
        "mapping.changed",
        Some(ann),
        "old-mapping",
    );
    insert(
        &app,
        &riverside,
        at(2026, 11, 20),
        "mapping.changed",
        Some(ann),
        "new-mapping",
    );
    insert(
        &app,
        &riverside,
        at(2026, 11, 21),
        "rule.changed",
        None,
        "rule-7",
    );
    insert(
        &app,
        &lakeside,
        at(2026, 11, 21),
        "mapping.changed",
        None,
        "LAKESIDE-SECRET",
    );
    for i in 0..55 {
        insert(
            &app,
            &riverside,
            at(2025, 6, 1),
            "channel.changed",
            None,
            &format!("channel-{i}"),
        );
    }

    let page = |path: &'static str| {
        let admin = admin.clone();
        let app = &app;
        async move { app.get_with(&admin, path).await.text().await.expect("page") }
    };
    let all = page("/portal/settings/audit").await;
    assert!(
        all.contains("href=\"/portal/settings/audit\""),
        "nav has Audit"
    );
    assert!(
        all.contains("<code>login.success</code>"),
        "sign-ins are listed"
    );
    assert!(!all.contains("LAKESIDE-SECRET") && !all.contains("admin@lakeside.test"));
    assert!(all.contains("203.0.0.0") && all.contains("req-audit-test"));
    assert!(all.contains("Page 1 of 2"));

    let mappings = page("/portal/settings/audit?action=mapping.changed").await;
    assert!(mappings.contains("old-mapping") && mappings.contains("new-mapping"));
    assert!(!mappings.contains("rule-7") && !mappings.contains("LAKESIDE-SECRET"));
    assert!(
        mappings.contains("ann@riverside.test"),
        "actor shown by e-mail"
    );
    assert!(mappings.contains(">alias</span>"), "changed field names");

    let recent =
        page("/portal/settings/audit?action=mapping.changed&from=2026-01-01&to=2026-11-23").await;
    assert!(recent.contains("new-mapping") && !recent.contains("old-mapping"));
    let by_ann = page("/portal/settings/audit?actor=Ann%40Riverside.test").await;
    assert!(by_ann.contains("new-mapping") && !by_ann.contains("rule-7"));
    assert!(!by_ann.contains("<code>login.success</code>"));
    let by_id = app
        .get_with(
            &admin,
            &format!("/portal/settings/audit?actor={ann}&from=2026-01-01"),
        )
        .await
        .text()
        .await
        .expect("page");
    assert!(by_id.contains("new-mapping") && !by_id.contains("old-mapping"));
    let stranger = page("/portal/settings/audit?actor=admin%40lakeside.test").await;
    assert!(stranger.contains("No member of your organisation"));
    assert!(!stranger.contains("LAKESIDE-SECRET"));

    // Pagination keeps the filters.
    let channels = page("/portal/settings/audit?action=channel.changed").await;
    assert!(channels.contains("Page 1 of 2"));
    assert!(channels.contains("action=channel.changed&amp;page=2"));

    for bad in [
        "/portal/settings/audit?from=2026-13-01",
        "/portal/settings/audit?to=yesterday",
        "/portal/settings/audit?from=2026-11-24&to=2026-11-01",
        "/portal/settings/audit.csv?from=24%2F11%2F2026",
        "/portal/settings/audit?page=0",
    ] {
        let res = app.get_with(&admin, bad).await;
        assert_eq!(res.status(), 400, "{bad}");
        let body = res.text().await.expect("page");
        assert!(
            body.contains("&#39;from&#39;")
                || body.contains("&#39;to&#39;")
                || body.contains("&#39;page&#39;")
                || body.contains("'from'")
                || body.contains("'to'")
                || body.contains("'page'"),
            "{bad}: the message names the parameter"
        );
    }
}

#[actix_web::test]
async fn audit_csv_is_formula_safe_filtered_and_audited() {
    let app = spawn_app().await;
    let admin = signed_in(
        &app,
        "Riverside Clinic",
        "admin@riverside.test",
        Role::Admin,
        false,
    )
    .await;
    let _other = signed_in(
        &app,
        "Lakeside Health",
        "admin@lakeside.test",
        Role::Admin,
        false,
    )
    .await;
    let riverside = app.scope_of("riverside-clinic");
    let lakeside = app.scope_of("lakeside-health");
    let evil = member(&app, &riverside, "=cmd|' /c calc'!a0@riverside.test");
    insert(
        &app,
        &riverside,
        at(2026, 11, 20),
        "mapping.changed",
        Some(evil),
        "=HYPERLINK(\"http://evil.test\")",
    );
    insert(
        &app,
        &riverside,
        at(2026, 11, 21),
        "rule.changed",
        None,
        "+1+1",
    );
    insert(
        &app,
        &lakeside,
        at(2026, 11, 21),
        "mapping.changed",
        None,
        "LAKESIDE-SECRET",
    );

    let res = app
        .get_with(&admin, "/portal/settings/audit.csv?action=mapping.changed")
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/csv")
    );
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .contains("attachment")
    );
    let csv = res.text().await.expect("csv");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        payerwatch::web::view::csv_export::AUDIT_COLUMNS.join(",")
    );
    assert_eq!(lines.len(), 2, "{csv}");
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"http://evil.test\"\")\""),
        "{csv}"
    );
    assert!(
        lines[1].contains("'=cmd|"),
        "formula-like e-mail is neutralised: {csv}"
    );
    assert!(!csv.contains("LAKESIDE-SECRET") && !csv.contains("rule.changed"));

    let all = app
        .get_with(&admin, "/portal/settings/audit.csv")
        .await
        .text()
        .await
        .expect("csv");
    assert!(all.contains(",'+1+1,"), "{all}");
    assert!(!all.contains("LAKESIDE-SECRET"));

    // Each download is an audit event of the admin, with the request id.
    let exported: Vec<(Option<i64>, Option<String>, Option<String>)> = {
        use diesel::prelude::*;
        let mut conn = app.db.get().expect("conn");
        audit_events::table
            .filter(audit_events::action.eq("audit.exported"))
            .filter(audit_events::customer_id.eq(riverside.id()))
            .select((
                audit_events::actor_user_id,
                audit_events::target_type,
                audit_events::request_id,
            ))
            .load(&mut *conn)
            .expect("rows")
    };
    assert_eq!(exported.len(), 2);
    let admin_id = {
        let mut conn = app.db.get().expect("conn");
        users::find_by_email(&mut conn, "admin@riverside.test")
            .expect("admin")
            .id
    };
    assert!(
        exported
            .iter()
            .all(|(actor, target, request)| *actor == Some(admin_id)
                && target.as_deref() == Some("audit_trail")
                && request.as_deref().is_some_and(|r| !r.is_empty()))
    );
    let page = app
        .get_with(&admin, "/portal/settings/audit?action=audit.exported")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("audit.exported") && page.contains("admin@riverside.test"));
}
