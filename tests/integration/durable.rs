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
