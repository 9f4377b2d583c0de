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
