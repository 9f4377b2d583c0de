//! Durable work (issue 14): uploads and analytics runs as jobs, surviving bursts,
//! crashes and restarts, on both databases.

use std::time::Duration;

use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::roles::Role;

use crate::common::{TestApp, csrf_token, location, spawn_app};

fn generated(rows: u64, seed: u64) -> Vec<u8> {
    let mut csv = Vec::new();
    payerwatch::devtools::generate::generate(
        &GenOptions {
            rows,
            seed,
            ..GenOptions::default()
        },
        &mut csv,
    )
    .expect("generated");
    csv
}

async fn upload(app: &TestApp, client: &reqwest::Client, name: &str, body: Vec<u8>) -> String {
    let page = app
        .get_with(client, "/portal/uploads")
        .await
        .text()
        .await
        .expect("page");
    let token = csrf_token(&page).expect("token");
    let part = reqwest::multipart::Part::bytes(body)
        .file_name(name.to_string())
        .mime_str("text/csv")
        .expect("mime");
    let res = client
        .post(app.url("/portal/uploads"))
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf_token", token)
                .part("file", part),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 303, "upload accepted");
    location(&res)
}

/// Polls the database until the upload leaves queued/processing; returns its status and message.
async fn settled(app: &TestApp, upload_id: i64) -> (String, Option<String>) {
    use diesel::prelude::*;
    use payerwatch::db::schema::uploads;
    for _ in 0..600 {
        let db = app.db.clone();
        let row: (String, Option<String>) = actix_web::rt::task::spawn_blocking(move || {
            let mut conn = db.get().expect("connection");
            uploads::table
                .find(upload_id)
                .select((uploads::status, uploads::message))
                .first(&mut conn)
                .expect("upload")
        })
        .await
        .expect("joined");
        if row.0 != "processing" && row.0 != "queued" {
            return row;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("upload {upload_id} never finished");
}

fn id_of(path: &str) -> i64 {
    path.rsplit('/')
        .next()
        .and_then(|s| s.parse().ok())
        .expect("upload id")
}

/// Symptom 1: a small upload, then a large one a second later, as the same analyst.
#[actix_web::test]
async fn two_web_uploads_a_second_apart_both_succeed() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let first = upload(&app, &app.client, "small.csv", generated(600, 1)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = upload(&app, &app.client, "large.csv", generated(60_000, 2)).await;
    // Other people keep working meanwhile: each sign-in writes a session and an audit row.
    for _ in 0..10 {
        let other = crate::common::new_client();
        app.login_with(&other, "analyst@clinic.test", &password)
            .await;
        app.get_with(&other, "/portal/uploads").await;
    }
    for path in [first, second] {
        let (status, message) = settled(&app, id_of(&path)).await;
        assert!(
            status == "partial" || status == "succeeded",
            "{path}: {status} {message:?}"
        );
    }
}

/// Waits until no job is queued or running.
async fn jobs_drained(app: &TestApp) {
    use diesel::prelude::*;
    use payerwatch::db::schema::jobs;
    for _ in 0..1200 {
        let db = app.db.clone();
        let open: i64 = actix_web::rt::task::spawn_blocking(move || {
            let mut conn = db.get().expect("connection");
            jobs::table
                .filter(jobs::state.eq_any(["queued", "running"]))
                .count()
                .get_result(&mut conn)
                .expect("count")
        })
        .await
        .expect("joined");
        if open == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("jobs never drained");
}

/// Symptom 2 and the burst test: ten uploads at once from several users of two tenants.
/// Every upload is stored, and each product's last run started after the last upload of
/// its tenant finished (so it read every accepted claim): requests coalesce, none drops.
#[actix_web::test]
async fn ten_parallel_uploads_from_two_tenants_all_land_and_are_all_analysed() {
    use diesel::prelude::*;
    use payerwatch::db::schema::{claim_records, report_runs, uploads};
    let app = spawn_app().await;
    let mut clients = Vec::new();
    for (tenant, users) in [("Clinic A", 3), ("Clinic B", 2)] {
        for u in 0..users {
            let email = format!("u{u}@{}.test", tenant.replace(' ', "").to_lowercase());
            let password = app.create_user(tenant, &email, Role::Analyst, false);
            let client = crate::common::new_client();
            app.login_with(&client, &email, &password).await;
            clients.push(client);
        }
    }
    let mut sends = Vec::new();
    for i in 0..10u64 {
        let client = clients[(i % 5) as usize].clone();
        let app = &app;
        sends.push(async move {
            upload(
                app,
                &client,
                &format!("burst-{i}.csv"),
                generated(3_000, 100 + i),
            )
            .await
        });
    }
    let paths = futures_util::future::join_all(sends).await;
    for path in &paths {
        let (status, message) = settled(&app, id_of(path)).await;
        assert!(
            status == "partial" || status == "succeeded",
            "{path}: {status} {message:?}"
        );
    }
    jobs_drained(&app).await;
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let mut conn = db.get().expect("connection");
        let tenants: Vec<i64> = uploads::table
            .select(uploads::customer_id)
            .distinct()
            .load(&mut conn)
            .expect("tenants");
        assert_eq!(tenants.len(), 2);
        for tenant in tenants {
            let accepted: Vec<i64> = uploads::table
                .filter(uploads::customer_id.eq(tenant))
                .select(uploads::accepted_rows)
                .load(&mut conn)
                .expect("uploads");
            let claims: i64 = claim_records::table
                .filter(claim_records::customer_id.eq(tenant))
                .count()
                .get_result(&mut conn)
                .expect("claims");
            assert_eq!(
                claims,
                accepted.iter().sum::<i64>(),
                "every accepted row stored once"
            );
            let last_finished = uploads::table
                .filter(uploads::customer_id.eq(tenant))
                .select(diesel::dsl::max(uploads::finished_at))
                .first::<Option<chrono::NaiveDateTime>>(&mut conn)
                .expect("finished")
                .expect("some");
            for product in ["drift_watch", "denial_scope", "delay_guard"] {
                let (status, started): (String, chrono::NaiveDateTime) = report_runs::table
                    .filter(report_runs::customer_id.eq(tenant))
                    .filter(report_runs::product.eq(product))
                    .order(report_runs::id.desc())
                    .select((report_runs::status, report_runs::started_at))
                    .first(&mut conn)
                    .expect("a run");
                assert_eq!(status, "succeeded", "{product}");
                assert!(
                    started >= last_finished,
                    "{product}: the last run read every upload"
                );
            }
        }
    })
    .await
    .expect("checked");
}

/// Symptom 3: a run whose process died (its lease ran out) no longer holds the product.
#[actix_web::test]
async fn a_dead_report_run_never_blocks_the_next() {
    use payerwatch::db::repo::analytics as repo;
    use payerwatch::domain::analytics::Product;
    use payerwatch::domain::tenant::{CustomerId, TenantScope};
    let app = spawn_app().await;
    app.create_user("Clinic", "a@clinic.test", Role::Analyst, false);
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let scope = TenantScope::for_system(CustomerId(1));
        let dead = db
            .write_blocking(|c| {
                repo::start_run(
                    c,
                    &scope,
                    &repo::NewRun {
                        product: "drift_watch",
                        mode: "sound",
                        trigger: "cli",
                        parameters_json: "{}",
                        lease_until: payerwatch::db::repo::now() - chrono::Duration::seconds(1),
                        job_id: None,
                    },
                )
            })
            .expect("a run left running by a killed process");
        payerwatch::services::analytics::run(&db, &scope, Product::DriftWatch, None, "cli")
            .expect("the next run is not blocked");
        let mut conn = db.get().expect("connection");
        let run = repo::find_run(&mut conn, &scope, dead).expect("dead run");
        assert_eq!(run.status, "failed");
        assert!(
            run.error_message
                .unwrap_or_default()
                .contains("interrupted")
        );
    })
    .await
    .expect("checked");
}

/// Symptom 6: the upload page shows only this upload's own analytics — never an older
/// run's outcome while it waits.
#[actix_web::test]
async fn the_upload_page_shows_its_own_state_never_an_older_run() {
    use payerwatch::domain::tenant::{CustomerId, TenantScope};
    let app = crate::common::spawn_app_with(crate::common::SpawnOptions {
        overrides: vec![("PAYERWATCH_JOB_WORKERS", "0".to_string())],
        ..Default::default()
    })
    .await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let db = app.db.clone();
    actix_web::rt::task::spawn_blocking(move || {
        let scope = TenantScope::for_system(CustomerId(1));
        for run in payerwatch::services::analytics::run_all(&db, &scope, None, "test") {
            run.expect("an older run");
        }
    })
    .await
    .expect("ran");
    let path = upload(&app, &app.client, "new.csv", generated(500, 7)).await;
    let page = app.get(&path).await.text().await.expect("page");
    assert!(page.contains("Queued… position 1"), "{page}");
    assert!(
        !page.contains("succeeded"),
        "no older run's outcome: {page}"
    );
    assert!(!page.contains("new finding"), "{page}");
}
