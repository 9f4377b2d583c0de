//! The payer list, scorecards and alert pages are cached per version (issue 21 item 4,
//! `web::caches::pages`), on both databases: every kind of write shows on the next
//! request, and no tenant is served another's cached page.

use chrono::NaiveDate;
use payerwatch::db::repo::alerts::{self as repo, NewAlert};
use payerwatch::db::repo::{saved_filters, users};
use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::TenantScope;

use crate::common::{TestApp, new_client, spawn_app};

/// A data-quality alert of `payer`, raised as a run or an upload raises one (straight
/// into the database, not through the web). Returns its id.
fn raise_alert(app: &TestApp, scope: &TenantScope, payer: &str, title: &str) -> i64 {
    let mut conn = app.db.get().expect("conn");
    let rule_id = repo::ensure_default_rules(&mut conn, scope).expect("rules")[0].id;
    let upload_id =
        payerwatch::db::repo::uploads::insert_processing(&mut conn, scope, "q.csv", None)
            .expect("upload");
    let alert = NewAlert {
        customer_id: scope.id(),
        drift_event_id: None,
        upload_id: Some(upload_id),
        rule_id,
        product: "data_quality".into(),
        kind: "quality_score".into(),
        payer: payer.into(),
        cpt_group: String::new(),
        severity: 0.8,
        severity_label: "high".into(),
        title: title.into(),
        payload_json: "{}".into(),
        initial_status: "open".into(),
        suppression_json: None,
        created_at: NaiveDate::from_ymd_opt(2026, 11, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("time"),
    };
    repo::insert_alert(&mut conn, scope, &alert).expect("alert")
}

fn ingest_csv(app: &TestApp, scope: &TenantScope, rows: &str) {
    use payerwatch::ingest::{self, IngestOptions, Limits, UploadRequest};
    let csv = format!("payer,cpt,submitted_date,decided_date,outcome,allowed_amount\n{rows}");
    let request = UploadRequest {
        scope: *scope,
        file_name: format!("{}.csv", uuid::Uuid::new_v4().simple()),
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

async fn body(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let res = app.get_with(client, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("body")
}

#[actix_web::test]
async fn every_kind_of_alert_write_shows_on_the_next_request() {
    let app = spawn_app().await;
    let pw = app.create_user("Clinic", "owner@clinic.test", Role::Owner, false);
    app.create_user("Clinic", "colleague@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    let id = raise_alert(&app, &scope, "Aetna", "Quality alert one");
    let (list, page) = ("/portal/alerts", format!("/portal/alerts/{id}"));
    let acked = "/portal/alerts?status=acknowledged";
    let owner = new_client();
    app.login_with(&owner, "owner@clinic.test", &pw).await;
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let (owner, page) = (&owner, &page);
        let app = &app;
        async move {
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let res = app.post_form_with(owner, page, &path, &fields).await;
            assert_eq!(res.status(), 303, "{path}");
        }
    };
    // Each page cached before each write (`post` reads the alert page for its token).
    for path in [list, acked, page.as_str()] {
        body(&app, &owner, path).await;
    }
    assert!(
        !body(&app, &owner, acked)
            .await
            .contains("Quality alert one")
    );

    post(
        format!("{page}/status"),
        vec![("status", "acknowledged".into())],
    )
    .await;
    assert!(
        body(&app, &owner, acked)
            .await
            .contains("Quality alert one")
    );
    assert!(
        body(&app, &owner, &page)
            .await
            .contains("badge-neutral\">acknowledged")
    );

    post(
        format!("{page}/judgment"),
        vec![("verdict", "needs_follow_up".into())],
    )
    .await;
    assert!(
        body(&app, &owner, &page)
            .await
            .contains("<strong>Needs follow-up</strong> — owner@clinic.test")
    );
    assert!(body(&app, &owner, list).await.contains("Needs follow-up"));

    let colleague = {
        let mut conn = app.db.get().expect("conn");
        users::find_by_email(&mut conn, "colleague@clinic.test")
            .expect("user")
            .id
    };
    post(
        format!("{page}/assignment"),
        vec![
            ("assignee", colleague.to_string()),
            ("due_on", "2026-12-20".into()),
        ],
    )
    .await;
    let detail = body(&app, &owner, &page).await;
    assert!(detail.contains("assigned to <strong>colleague@clinic.test</strong>"));
    assert!(detail.contains("due 2026-12-20"));
    assert!(body(&app, &owner, list).await.contains("2026-12-20"));

    post(
        format!("{page}/comments"),
        vec![("body", "Asked the payer rep.".into())],
    )
    .await;
    assert!(
        body(&app, &owner, &page)
            .await
            .contains("Asked the payer rep.")
    );

    post(
        "/portal/alerts/bulk".into(),
        vec![("alert_id", id.to_string()), ("action", "resolve".into())],
    )
    .await;
    assert!(
        body(&app, &owner, &page)
            .await
            .contains("badge-neutral\">resolved")
    );
    assert!(
        !body(&app, &owner, acked)
            .await
            .contains("Quality alert one")
    );

    // A new alert (as a run raises it), a new member, a member who may no longer work
    // alerts, a saved filter: not through these pages, still on the next request.
    raise_alert(&app, &scope, "Cigna", "Quality alert two");
    assert!(body(&app, &owner, list).await.contains("Quality alert two"));
    app.create_user("Clinic", "newcomer@clinic.test", Role::Analyst, false);
    assert!(
        body(&app, &owner, &page)
            .await
            .contains(">newcomer@clinic.test</option>")
    );
    {
        let mut conn = app.db.get().expect("conn");
        let newcomer = users::find_by_email(&mut conn, "newcomer@clinic.test").expect("user");
        users::set_role(&mut conn, &scope, newcomer.id, Role::Viewer).expect("role");
    }
    assert!(
        !body(&app, &owner, &page)
            .await
            .contains(">newcomer@clinic.test</option>")
    );
    {
        let mut conn = app.db.get().expect("conn");
        let me = users::find_by_email(&mut conn, "owner@clinic.test")
            .expect("user")
            .id;
        saved_filters::upsert_saved_filter(
            &mut conn,
            &scope,
            me,
            "alerts",
            "Open ones",
            "status=open",
        )
        .expect("saved");
    }
    assert!(body(&app, &owner, list).await.contains("Open ones"));
}

#[actix_web::test]
async fn uploads_and_alerts_show_on_the_payer_list_and_scorecard_and_tenants_stay_apart() {
    let app = spawn_app().await;
    let pw = app.create_user("Clinic", "owner@clinic.test", Role::Owner, false);
    let other_pw = app.create_user("Other", "owner@other.test", Role::Owner, false);
    let (scope, other) = (app.scope_of("clinic"), app.scope_of("other"));
    ingest_csv(
        &app,
        &scope,
        "Aetna,99213,2026-11-01,2026-11-10,PAID,100.00\n\
         Aetna,99213,2026-11-02,2026-11-12,DENIED,50.00\n",
    );
    ingest_csv(
        &app,
        &other,
        "Aetna,99213,2026-11-01,2026-11-10,DENIED,100.00\n",
    );
    let id = raise_alert(&app, &scope, "Aetna", "Clinic own alert");
    let (clinic, outsider) = (new_client(), new_client());
    app.login_with(&clinic, "owner@clinic.test", &pw).await;
    app.login_with(&outsider, "owner@other.test", &other_pw)
        .await;
    let rate = |html: &str| {
        let at = html.find("<td>Denial rate</td>").expect("rate row");
        html[at..at + html[at..].find("</tr>").expect("row end")].to_string()
    };

    // Both tenants cache the same paths; each sees its own.
    for _ in 0..2 {
        let card = body(&app, &clinic, "/portal/payers/Aetna").await;
        assert!(rate(&card).contains("50.0 %") && card.contains("Clinic own alert"));
        let theirs = body(&app, &outsider, "/portal/payers/Aetna").await;
        assert!(rate(&theirs).contains("100.0 %") && !theirs.contains("Clinic own"));
        assert!(
            body(&app, &clinic, "/portal/payers")
                .await
                .contains("Aetna</a></td><td class=\"num\">2<")
        );
        assert!(
            body(&app, &outsider, "/portal/payers")
                .await
                .contains("Aetna</a></td><td class=\"num\">1<")
        );
        body(&app, &clinic, &format!("/portal/alerts/{id}")).await;
        let res = app
            .get_with(&outsider, &format!("/portal/alerts/{id}"))
            .await;
        assert_eq!(res.status(), 404, "another tenant's alert, cached or not");
        assert!(
            body(&app, &clinic, "/portal/alerts")
                .await
                .contains("Clinic own alert")
        );
        assert!(
            !body(&app, &outsider, "/portal/alerts")
                .await
                .contains("Clinic own")
        );
    }

    // An upload: the new figures and payer on the next request.
    ingest_csv(
        &app,
        &scope,
        "Aetna,99214,2026-11-03,2026-11-12,DENIED,70.00\n\
         Aetna,99214,2026-11-04,2026-11-12,DENIED,80.00\n\
         Humana,99214,2026-11-04,2026-11-12,PAID,80.00\n",
    );
    let payers = body(&app, &clinic, "/portal/payers").await;
    assert!(payers.contains("Aetna</a></td><td class=\"num\">4<") && payers.contains("Humana"));
    assert!(rate(&body(&app, &clinic, "/portal/payers/Aetna").await).contains("75.0 %"));

    // A resolved alert leaves the scorecard's unresolved list on the next request.
    {
        let mut conn = app.db.get().expect("conn");
        let me = users::find_by_email(&mut conn, "owner@clinic.test")
            .expect("user")
            .id;
        repo::append_status(&mut conn, &scope, id, "resolved", me).expect("resolved");
    }
    assert!(
        !body(&app, &clinic, "/portal/payers/Aetna")
            .await
            .contains("Clinic own alert")
    );
}
