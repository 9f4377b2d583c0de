//! Payer identity on the mappings page (issue 17 item 2): the page shows which spellings
//! were merged and why; one click splits a spelling off or merges a payer into another,
//! re-mapping the stored claims with an audit row, and later uploads follow.

use chrono::NaiveDate;
use payerwatch::db::repo::mappings;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::TenantScope;
use payerwatch::ingest::{self, IngestOptions, Limits, UploadRequest, UploadStatus};

use crate::common::{TestApp, csrf_token, spawn_app};

const PAGE: &str = "/portal/settings/mappings";

fn upload(app: &TestApp, scope: TenantScope, name: &str, rows: &[(&str, usize)]) {
    let mut body = String::from("payer,cpt,submitted_date,decided_date,outcome\n");
    for (payer, n) in rows {
        for _ in 0..*n {
            body.push_str(&format!("\"{payer}\",99213,2026-01-02,2026-01-10,PAID\n"));
        }
    }
    let req = UploadRequest {
        scope,
        file_name: name.into(),
        uploaded_by: None,
        declared_size: None,
        limits: Limits::default(),
        today: NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"),
    };
    let out =
        ingest::ingest(&app.db, &req, body.as_bytes(), &IngestOptions::default()).expect("upload");
    assert_eq!(out.status, UploadStatus::Succeeded);
}

fn stored(app: &TestApp, scope: &TenantScope) -> Vec<(String, String, u64)> {
    let mut conn = app.db.get().expect("conn");
    let mut rows = mappings::spelling_claim_counts(&mut conn, scope).expect("counts");
    rows.sort();
    rows
}

fn audit_actions(app: &TestApp) -> Vec<String> {
    use diesel::prelude::*;
    use payerwatch::db::schema::audit_events;
    let mut conn = app.db.get().expect("conn");
    audit_events::table
        .order(audit_events::id.asc())
        .select(audit_events::action)
        .load(&mut conn)
        .expect("audit")
}

async fn post(app: &TestApp, fields: &[(&str, &str)]) -> reqwest::Response {
    let page = app.get(PAGE).await.text().await.expect("page");
    let token = csrf_token(&page).expect("token");
    let mut form: Vec<(&str, &str)> = vec![("csrf_token", token.as_str())];
    form.extend_from_slice(fields);
    app.client
        .post(app.url(PAGE))
        .form(&form)
        .send()
        .await
        .expect("sent")
}

#[actix_web::test]
async fn the_page_shows_merges_and_one_click_splits_or_merges_stored_claims() {
    let app = spawn_app().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    upload(
        &app,
        scope,
        "a.csv",
        &[
            ("Acme Health Plan", 5),
            ("ACME HEALTH PLAN", 2),
            ("Acme Health Plan, Inc.", 2),
            ("United Healthcare", 3),
            ("Zenith", 4),
        ],
    );
    assert_eq!(
        stored(&app, &scope),
        vec![
            ("ACME HEALTH PLAN".into(), "Acme Health Plan".into(), 2),
            ("Acme Health Plan".into(), "Acme Health Plan".into(), 5),
            (
                "Acme Health Plan, Inc.".into(),
                "Acme Health Plan".into(),
                2
            ),
            ("United Healthcare".into(), "UnitedHealthcare".into(), 3),
            ("Zenith".into(), "Zenith".into(), 4),
        ]
    );

    app.login("analyst@clinic.test", &pw).await;
    let page = app.get(PAGE).await.text().await.expect("page");
    assert!(page.contains("Payers and their spellings"), "{page}");
    assert!(page.contains("ACME HEALTH PLAN"));
    assert!(page.contains("the same name apart from case"));
    assert!(page.contains("a common US payer name or abbreviation"));
    assert!(page.contains("Split off"));

    // Split: the spelling keeps its own name, now and at later uploads.
    let res = post(
        &app,
        &[("action", "split"), ("alias", "Acme Health Plan, Inc.")],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(stored(&app, &scope).contains(&(
        "Acme Health Plan, Inc.".into(),
        "Acme Health Plan, Inc.".into(),
        2
    )));
    upload(&app, scope, "b.csv", &[("Acme Health Plan, Inc.", 1)]);
    assert!(stored(&app, &scope).contains(&(
        "Acme Health Plan, Inc.".into(),
        "Acme Health Plan, Inc.".into(),
        3
    )));
    // A case-only variant cannot be kept apart (aliases ignore case): 409, nothing changed.
    let res = post(&app, &[("action", "split"), ("alias", "ACME HEALTH PLAN")]).await;
    assert_eq!(res.status(), 409);

    // Merge: every spelling of Zenith goes under Acme, and later uploads follow.
    let res = post(
        &app,
        &[
            ("action", "merge"),
            ("alias", "Zenith"),
            ("canonical", "Acme Health Plan"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    upload(&app, scope, "c.csv", &[("Zenith", 1)]);
    assert!(stored(&app, &scope).contains(&("Zenith".into(), "Acme Health Plan".into(), 5)));

    // Unknown payers and self-merges are refused; nothing is audited for them.
    let res = post(&app, &[("action", "split"), ("alias", "Nobody")]).await;
    assert_eq!(res.status(), 404);
    let res = post(
        &app,
        &[
            ("action", "merge"),
            ("alias", "Acme Health Plan"),
            ("canonical", "Acme Health Plan"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let actions = audit_actions(&app);
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.starts_with("mapping.payer_"))
            .collect::<Vec<_>>(),
        ["mapping.payer_split", "mapping.payer_merge"]
    );
}

#[actix_web::test]
async fn viewers_see_the_merges_but_cannot_split() {
    let app = spawn_app().await;
    let pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let scope = app.scope_of("clinic");
    upload(&app, scope, "a.csv", &[("Acme", 2), ("ACME", 1)]);
    app.login("viewer@clinic.test", &pw).await;
    let page = app.get(PAGE).await.text().await.expect("page");
    assert!(page.contains("ACME"));
    assert!(!page.contains("Split off"));
    let res = post(&app, &[("action", "split"), ("alias", "ACME")]).await;
    assert_eq!(res.status(), 403);
}
