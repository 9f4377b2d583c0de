//! Payer scorecards (issue 19 item 2, SPEC §10 `/portal/payers/{payer}`), on both
//! databases: the demo data's Cigna figures equal counts taken from the database
//! independently, viewers read it, every payer name links it, and another tenant's payer
//! is a 404.

use chrono::Duration;
use diesel::prelude::*;
use payerwatch::db::repo::analytics;
use payerwatch::db::schema::claim_records;
use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::format;
use payerwatch::domain::roles::Role;
use payerwatch::domain::scorecard::PERIOD_DAYS;
use payerwatch::domain::tenant::TenantScope;
use payerwatch::services::analytics as reports;

use crate::common::{load_generated_claims, new_client, spawn_app};

/// A payer only the other tenant has; its name needs encoding in a path (space, slash).
const OTHERS_PAYER: &str = "Zeta Mutual / West";
const OTHERS_PAYER_PATH: &str = "/portal/payers/Zeta%20Mutual%20%2F%20West";

fn ingest_csv(app: &crate::common::TestApp, scope: &TenantScope, csv: &str) {
    use payerwatch::ingest::{self, IngestOptions, Limits, UploadRequest};
    let request = UploadRequest {
        scope: *scope,
        file_name: "other.csv".to_string(),
        uploaded_by: None,
        declared_size: Some(csv.len() as u64),
        limits: Limits::default(),
        today: GenOptions::default().end,
    };
    let options = IngestOptions {
        no_analytics_request: true,
        ..IngestOptions::default()
    };
    ingest::ingest(&app.db, &request, csv.as_bytes(), &options).expect("ingested");
}

#[actix_web::test]
async fn the_cigna_scorecard_matches_the_database_and_stays_in_its_tenant() {
    let app = spawn_app().await;
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let other_pw = app.create_user("Other", "admin@other.test", Role::Admin, false);
    let scope = app.scope_of("clinic");
    let other = app.scope_of("other");
    load_generated_claims(
        &app.db,
        &scope,
        &GenOptions {
            rows: 20_000,
            ..GenOptions::default()
        },
    );
    ingest_csv(
        &app,
        &other,
        &format!(
            "payer,cpt,submitted_date,decided_date,outcome,allowed_amount\n\
             {OTHERS_PAYER},99213,2026-11-01,2026-11-10,PAID,100.00\n\
             {OTHERS_PAYER},99213,2026-11-02,2026-11-12,DENIED,50.00\n"
        ),
    );
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || reports::run_all(&db, &scope, None, "test"))
        .await
        .expect("runs");

    // Cigna's current period, counted from the claims themselves.
    let mut conn = app.db.get().expect("conn");
    let anchor = analytics::latest_decided(&mut conn, &scope)
        .expect("query")
        .expect("data");
    let start = anchor - Duration::days(PERIOD_DAYS - 1);
    let rows: Vec<(String, i32, Option<i64>, Option<String>)> = claim_records::table
        .filter(claim_records::customer_id.eq(scope.id()))
        .filter(claim_records::payer.eq("Cigna"))
        .filter(claim_records::decided_date.between(start, anchor))
        .filter(claim_records::outcome.eq_any(["PAID", "DENIED"]))
        .select((
            claim_records::outcome,
            claim_records::decision_days,
            claim_records::allowed_cents,
            claim_records::denial_reason_code,
        ))
        .load(&mut conn)
        .expect("claims");
    drop(conn);
    let denied = rows.iter().filter(|r| r.0 == "DENIED").count();
    assert!(
        denied > 20 && rows.len() > 500,
        "enough data: {denied}/{}",
        rows.len()
    );
    let rate = denied as f64 / rows.len() as f64;
    let mut days: Vec<i32> = rows.iter().map(|r| r.1).collect();
    days.sort_unstable();
    let median = f64::from(days[(days.len() - 1) / 2] + days[days.len() / 2]) / 2.0;
    let denied_cents: i64 = rows
        .iter()
        .filter(|r| r.0 == "DENIED")
        .filter_map(|r| r.2)
        .sum();
    let co197 = rows
        .iter()
        .filter(|r| r.0 == "DENIED" && r.3.as_deref() == Some("CO-197"))
        .count();

    let viewer = new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    let res = app.get_with(&viewer, "/portal/payers/Cigna").await;
    assert_eq!(res.status(), 200, "a viewer reads the scorecard");
    let body = res.text().await.expect("body");
    let figures_row = |label: &str| -> String {
        let at = body.find(&format!("<td>{label}</td>")).expect(label);
        body[at..at + body[at..].find("</tr>").expect("row end")].to_string()
    };
    let rate_row = figures_row("Denial rate");
    assert!(
        rate_row.contains(&format::percent(rate)),
        "rate {} in {rate_row}",
        format::percent(rate)
    );
    assert!(
        figures_row("Median days to decision").contains(&format::days(median, false)),
        "median {median}"
    );
    assert!(
        figures_row("Denied dollars (allowed amount)")
            .contains(&format::dollars(denied_cents as f64 / 100.0)),
        "denied dollars"
    );
    assert!(
        figures_row("Claims decided").contains(&format::thousands(rows.len() as u64)),
        "decided"
    );
    assert!(body.contains(&format!(
        "{} denials of Cigna in the last {PERIOD_DAYS} days",
        format::thousands(denied as u64)
    )));
    // The injected drift makes CO-197 a top reason, shown with its words.
    assert!(co197 > 0);
    assert!(body.contains("<strong>CO-197</strong> <span class=\"muted\">Prior authorization"));
    assert!(
        body.contains("<svg class=\"chart monthly-chart\""),
        "the monthly chart"
    );
    assert!(
        body.contains("/portal/findings/") && body.contains("/claims\">claims</a>"),
        "Cigna's findings link their claims"
    );
    assert!(
        body.contains("/portal/alerts/"),
        "Cigna's open alerts are listed"
    );
    assert!(!body.contains(OTHERS_PAYER));

    // The list and the feeds link every payer's scorecard.
    let list = app.get_with(&viewer, "/portal/payers").await;
    assert_eq!(list.status(), 200);
    let list = list.text().await.expect("list");
    assert!(list.contains("href=\"/portal/payers/Cigna\""));
    assert!(list.contains("href=\"/portal/payers/Blue%20Cross%20Blue%20Shield\""));
    assert!(!list.contains("Zeta"), "only the tenant's own payers");

    let alerts = app.get_with(&viewer, "/portal/alerts").await;
    let alerts = alerts.text().await.expect("alerts");
    assert!(alerts.contains("href=\"/portal/payers/Cigna\">Cigna scorecard</a>"));

    // Another tenant's payer, and a payer nobody has: 404, nothing of the other tenant.
    for path in [OTHERS_PAYER_PATH, "/portal/payers/Nobody%20Health"] {
        let res = app.get_with(&viewer, path).await;
        assert_eq!(res.status(), 404, "{path}");
        assert!(!res.text().await.expect("body").contains("Zeta"));
    }
    // Its own tenant reads it (the encoded slash round-trips to the name).
    let admin = new_client();
    app.login_with(&admin, "admin@other.test", &other_pw).await;
    let res = app.get_with(&admin, OTHERS_PAYER_PATH).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    assert!(body.contains("Zeta Mutual / West"));
    assert!(body.contains("50.0 %"), "one of two claims denied");
    assert_eq!(
        app.get_with(&admin, "/portal/payers/Cigna").await.status(),
        404,
        "the other tenant has no Cigna claims"
    );
}

/// Issue 19 item 6: a signed-in user's error pages keep the portal frame (sidebar, "Sign
/// out"); a visitor's keep "Sign in".
#[actix_web::test]
async fn signed_in_error_pages_keep_the_portal_chrome() {
    let app = spawn_app().await;
    let visitor = app.get("/portal/no-such-page").await;
    assert_eq!(visitor.status(), 404);
    let body = visitor.text().await.expect("body");
    assert!(body.contains(">Sign in</a>") && !body.contains("Sign out"));

    let password = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    app.login("viewer@clinic.test", &password).await;
    for (path, status) in [
        ("/portal/no-such-page", 404),
        ("/portal/payers/Nobody%20Health", 404),
        ("/portal/settings/channels", 403),
        ("/portal/alerts?page=0", 400),
    ] {
        let res = app.get(path).await;
        assert_eq!(res.status(), status, "{path}");
        let body = res.text().await.expect("body");
        assert!(body.contains("Sign out"), "{path}: signed-in chrome");
        assert!(!body.contains(">Sign in</a>"), "{path}");
        assert!(
            body.contains("href=\"/portal/payers\"") && body.contains("class=\"sidenav\""),
            "{path}: the sidebar"
        );
    }
}

/// Scorecard figures are cached per rollup version (issue 21 item 4): an upload and a
/// re-map each change them on the very next request.
#[actix_web::test]
async fn an_upload_or_a_remap_changes_the_scorecard_on_the_next_request() {
    use payerwatch::domain::mapping_table::AliasEntry;
    use payerwatch::services::mappings;

    let app = spawn_app().await;
    let pw = app.create_user("Other", "admin@other.test", Role::Admin, false);
    let scope = app.scope_of("other");
    ingest_csv(
        &app,
        &scope,
        &format!(
            "payer,cpt,submitted_date,decided_date,outcome,allowed_amount\n\
             {OTHERS_PAYER},99213,2026-11-01,2026-11-10,PAID,100.00\n\
             {OTHERS_PAYER},99213,2026-11-02,2026-11-12,DENIED,50.00\n\
             Omega Health,99213,2026-11-01,2026-11-10,PAID,100.00\n\
             Omega Health,99213,2026-11-01,2026-11-11,PAID,100.00\n"
        ),
    );
    let admin = new_client();
    app.login_with(&admin, "admin@other.test", &pw).await;
    let rate_row = |body: &str| -> String {
        let at = body.find("<td>Denial rate</td>").expect("rate row");
        body[at..at + body[at..].find("</tr>").expect("row end")].to_string()
    };
    let card = || async {
        let res = app.get_with(&admin, OTHERS_PAYER_PATH).await;
        assert_eq!(res.status(), 200);
        rate_row(&res.text().await.expect("body"))
    };
    let first = card().await;
    assert!(first.contains("50.0 %"), "1 of 2 denied: {first}");
    assert_eq!(
        card().await,
        first,
        "the cached figures are the computed ones"
    );

    // An upload: 3 of 4 denied, on the next request.
    ingest_csv(
        &app,
        &scope,
        &format!(
            "payer,cpt,submitted_date,decided_date,outcome,allowed_amount\n\
             {OTHERS_PAYER},99214,2026-11-03,2026-11-12,DENIED,70.00\n\
             {OTHERS_PAYER},99214,2026-11-04,2026-11-12,DENIED,80.00\n"
        ),
    );
    let uploaded = card().await;
    assert!(uploaded.contains("75.0 %"), "3 of 4 denied: {uploaded}");

    // A re-map folds Omega's two paid claims in: 3 of 6 denied, on the next request.
    {
        let mut conn = app.db.get().expect("conn");
        let entry = AliasEntry::parse("Omega Health", OTHERS_PAYER).expect("alias");
        mappings::save_alias(&mut conn, &scope, &entry).expect("saved");
    }
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || mappings::remap(&db, &scope))
        .await
        .expect("task")
        .expect("remap");
    let remapped = card().await;
    assert!(
        remapped.contains("50.0 %") && !remapped.contains("75.0 %"),
        "3 of 6 denied: {remapped}"
    );
}
