//! Exports and links (issue 19 item 7, SPEC §6 Links), on both databases: the `url`
//! column of `alerts.csv` starts with `PAYERWATCH_PUBLIC_URL` when it is set, else with
//! the address the request came to; numbers are rounded for people.

use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::roles::Role;

use crate::common::{SpawnOptions, TestApp, spawn_app_with};

async fn app_with_alerts(overrides: Vec<(&'static str, String)>) -> (TestApp, String) {
    let app = spawn_app_with(SpawnOptions {
        overrides,
        ..SpawnOptions::default()
    })
    .await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    app.analysed(scope, &GenOptions::default()).await;
    app.login("analyst@clinic.test", &password).await;
    (app, password)
}

/// The `url` and `severity` cells of every row of `alerts.csv`, asked for with `host`.
async fn alert_rows(app: &TestApp, host: &str) -> Vec<(String, String)> {
    let res = app
        .client
        .get(app.url("/portal/alerts.csv"))
        .header(reqwest::header::HOST, host)
        .send()
        .await
        .expect("csv");
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("body");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    let headers = reader.headers().expect("header").clone();
    let col = |name: &str| headers.iter().position(|h| h == name).expect(name);
    let (url, severity) = (col("url"), col("severity"));
    let rows: Vec<(String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            (r[url].to_string(), r[severity].to_string())
        })
        .collect();
    assert!(!rows.is_empty(), "the generated drift raised alerts");
    rows
}

#[actix_web::test]
async fn alert_links_follow_the_request_host_unless_a_public_url_is_set() {
    let (app, _) = app_with_alerts(Vec::new()).await;
    // Development, no PAYERWATCH_PUBLIC_URL: the allowed host the request came to.
    let host = format!("localhost:{}", app.port);
    for (url, severity) in alert_rows(&app, &host).await {
        assert!(
            url.starts_with(&format!("http://{host}/portal/alerts/")),
            "{url}"
        );
        let decimals = severity.split_once('.').map_or(0, |(_, f)| f.len());
        assert!(decimals <= 2, "severity rounded: {severity}");
    }
    // A host that is not allowed never becomes a link (nor is it served).
    let res = app
        .client
        .get(app.url("/portal/alerts.csv"))
        .header(reqwest::header::HOST, "evil.example")
        .send()
        .await
        .expect("answer");
    assert!(
        !res.text().await.expect("body").contains("evil.example"),
        "a foreign host never makes a link"
    );

    let (app, _) = app_with_alerts(vec![(
        "PAYERWATCH_PUBLIC_URL",
        "https://payerwatch.example.org/".to_string(),
    )])
    .await;
    for (url, _) in alert_rows(&app, &format!("127.0.0.1:{}", app.port)).await {
        assert!(
            url.starts_with("https://payerwatch.example.org/portal/alerts/"),
            "{url}"
        );
    }
}
