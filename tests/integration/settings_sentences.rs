//! Settings that read like sentences (issue 19 item 8), on both databases: "Run analytics
//! now" follows its run on the page (self-refreshing while queued or running) and shows
//! the result when done.

use diesel::connection::SimpleConnection;
use payerwatch::db::repo::customers;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::{CustomerId, TenantScope};

use crate::common::{SpawnOptions, spawn_app_with};

#[actix_web::test]
async fn run_now_shows_progress_until_done_and_then_the_result() {
    // No job workers: the request stays queued until the test lets it finish.
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_JOB_WORKERS", "0".to_string())],
        ..SpawnOptions::default()
    })
    .await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &pw).await;
    let page = app
        .get("/portal/settings/analytics")
        .await
        .text()
        .await
        .expect("page");
    assert!(!page.contains("data-autorefresh"), "nothing in flight");

    let res = app
        .post_form(
            "/portal/settings/analytics",
            "/portal/settings/analytics",
            &[("action", "run")],
        )
        .await;
    assert_eq!(res.status(), 303);
    let page = app
        .get("/portal/settings/analytics")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("This page follows the run until it finishes."));
    assert!(page.contains("Analytics are queued"), "{page}");
    assert!(
        page.contains("data-autorefresh=\"2\""),
        "the page follows the run"
    );
    assert!(page.contains("<progress max=\"3\" value=\"0\""));

    // The run happens (here: the products run, then the job is marked done).
    let scope = {
        let mut conn = app.db.get().expect("conn");
        TenantScope::for_system(CustomerId(
            customers::find_by_slug(&mut conn, "clinic")
                .expect("customer")
                .id,
        ))
    };
    // The button is the API's request (services::analytics::request_run): audited alike,
    // the queued job its target (docs/decisions.md).
    {
        let mut conn = app.db.get().expect("conn");
        let requested: Vec<_> = payerwatch::db::repo::audit::list_recent(&mut conn, &scope, 100)
            .expect("audit")
            .into_iter()
            .filter(|e| e.action == "analytics.requested")
            .collect();
        assert_eq!(requested.len(), 1, "one audit row for the request");
        assert_eq!(requested[0].target_type.as_deref(), Some("job"));
    }
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        payerwatch::services::analytics::run_all(&db, &scope, None, "test")
    })
    .await
    .expect("runs");
    let mut conn = app.db.get().expect("conn");
    conn.batch_execute(&format!(
        "UPDATE jobs SET state = 'succeeded', finished_at = started_at WHERE customer_id = {}",
        scope.id()
    ))
    .expect("done");
    drop(conn);
    let page = app
        .get("/portal/settings/analytics")
        .await
        .text()
        .await
        .expect("page");
    assert!(
        !page.contains("data-autorefresh"),
        "stops refreshing when done"
    );
    assert!(page.contains("The last run finished"), "{page}");
    assert!(page.contains("3 products ran, 0 new findings."), "{page}");
}

#[actix_web::test]
async fn alert_rules_read_as_sentences_not_operators() {
    let app = crate::common::spawn_app().await;
    let pw = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    app.login("admin@clinic.test", &pw).await;
    let page = app
        .get("/portal/settings/rules")
        .await
        .text()
        .await
        .expect("page");
    assert!(page.contains("severity at least medium"), "{page}");
    assert!(page.contains("severity at least high"));
    assert!(page.contains("upload quality score below 90"), "{page}");
    // The rules table (the new-rule form's option values are codes, not text).
    let table = &page[..page.find("New rule").unwrap_or(page.len())];
    for operator in ["gte", " lt ", "0.4<", "0.7<"] {
        assert!(!table.contains(operator), "{operator} shown");
    }
}
