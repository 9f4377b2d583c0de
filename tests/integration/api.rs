//! The JSON API (issue 18) end to end on the real app, on both databases: token
//! lifecycle through the tokens page, role × endpoint matrix, cross-tenant 404s, the
//! problem+json shape of each error status, PHI absence, API vs form upload counts (CSV
//! and X12 835), rate limiting, cursor pagination under inserts, cookies never
//! authenticating `/api`, and the OpenAPI document and reference page.

use std::collections::BTreeSet;
use std::time::Duration;

use payerwatch::db::repo::api_tokens;
use payerwatch::devtools::generate::{GenOptions, generate};
use payerwatch::devtools::x12_835::generate_835;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::{CustomerId, TenantScope, UserId};
use payerwatch::services::api_tokens::{NewTokenRequest, create};
use serde_json::Value;

use crate::common::{SpawnOptions, TestApp, csrf_token, new_client, spawn_app, spawn_app_with};

const HEADER: &str = "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n";
const PHI_TEXT: &str = "Called patient Jennifer at (555) 867-5309";

fn claims_csv() -> String {
    let mut csv = String::from(HEADER);
    for i in 0..30 {
        csv.push_str(&format!(
            "Aetna,99213,2026-10-{:02},2026-11-01,DENIED,100.00,CO-197,Precertification absent\n",
            1 + i % 28
        ));
    }
    csv.push_str(&format!(
        "Aetna,99213,2026-10-01,2026-11-01,DENIED,100.00,CO-16,{PHI_TEXT}\n"
    ));
    csv.push_str("Aetna,9921,2026-10-01,2026-11-01,PAID,100.00,,\n");
    csv
}

/// The user's id and tenant scope, by e-mail.
fn user_of(app: &TestApp, email: &str) -> (UserId, TenantScope, Role) {
    let mut conn = app.db.get().expect("connection");
    let user = payerwatch::db::repo::users::find_by_email(&mut conn, email).expect("user");
    (
        UserId(user.id),
        TenantScope::for_system(CustomerId(user.customer_id)),
        user.role.parse().expect("role"),
    )
}

/// A token for an existing user, made by the service the tokens page uses.
async fn token_for(app: &TestApp, email: &str) -> String {
    let (user, scope, role) = user_of(app, email);
    create(
        &app.db,
        scope,
        user,
        role,
        NewTokenRequest {
            name: "test",
            days: None,
            role_cap: None,
        },
        Default::default(),
    )
    .await
    .expect("token")
    .secret
}

/// A new user of `customer` with `role` and a token of theirs.
async fn member(app: &TestApp, customer: &str, email: &str, role: Role) -> String {
    app.create_user(customer, email, role, false);
    token_for(app, email).await
}

async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
) -> reqwest::Response {
    let client = reqwest::Client::new();
    let mut req = client.request(method, app.url(path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("sent")
}

async fn get(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    call(app, reqwest::Method::GET, path, Some(token)).await
}

async fn json(res: reqwest::Response) -> Value {
    res.json().await.expect("json body")
}

async fn post_json(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(path))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("sent")
}

async fn api_upload(
    app: &TestApp,
    token: &str,
    name: &str,
    bytes: Vec<u8>,
    mime: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(name.to_string())
        .mime_str(mime)
        .expect("mime");
    reqwest::Client::new()
        .post(app.url("/api/v1/uploads"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .expect("sent")
}

/// Polls the upload until it is no longer processing.
async fn finished(app: &TestApp, token: &str, id: i64) -> Value {
    for _ in 0..300 {
        let body = json(get(app, &format!("/api/v1/uploads/{id}"), token).await).await;
        if body["status"] != "processing" {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("upload {id} still processing");
}

/// Waits until the tenant's analytics ran (runs exist, none running, no request queued).
async fn analytics_done(app: &TestApp, token: &str) -> Value {
    for _ in 0..600 {
        let runs = json(get(app, "/api/v1/runs", token).await).await;
        let items = runs["items"].as_array().expect("items");
        if items.len() >= 3 && items.iter().all(|r| r["status"] != "running") {
            return runs;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("analytics did not finish");
}

fn assert_problem(body: &Value, status: u16) {
    assert_eq!(body["status"], status, "{body}");
    for key in ["type", "title", "detail", "instance"] {
        assert!(body[key].is_string(), "problem without {key}: {body}");
    }
    assert!(
        body["instance"]
            .as_str()
            .is_some_and(|i| i.starts_with("urn:request:")),
        "{body}"
    );
}

async fn expect_problem(res: reqwest::Response, status: u16) -> Value {
    assert_eq!(res.status().as_u16(), status);
    let content_type = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().expect("ascii").to_string())
        .unwrap_or_default();
    assert_eq!(content_type, "application/problem+json");
    let body = json(res).await;
    assert_problem(&body, status);
    body
}

/// Creates a token through the tokens page; returns the secret shown once.
async fn token_via_page(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![("action", "create")];
    form.extend_from_slice(fields);
    app.post_form_with(
        client,
        "/portal/settings/tokens",
        "/portal/settings/tokens",
        &form,
    )
    .await
}

fn shown_secret(page: &str) -> Option<String> {
    let at = page.find("id=\"token-secret\">")? + "id=\"token-secret\">".len();
    let rest = &page[at..];
    Some(rest[..rest.find('<')?].to_string())
}

#[actix_web::test]
async fn token_lifecycle_through_the_tokens_page() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "owner@clinic.test", Role::Owner, false);
    let client = new_client();
    app.login_with(&client, "owner@clinic.test", &password)
        .await;

    // Created on the page, shown once.
    let res = token_via_page(
        &app,
        &client,
        &[("name", "owner export"), ("expires_in_days", "30")],
    )
    .await;
    assert_eq!(res.status(), 200);
    let page = res.text().await.expect("page");
    let secret = shown_secret(&page).expect("the new token is shown");
    assert!(secret.starts_with("pw_") && secret.len() == 52, "{secret}");
    let again = app
        .get_with(&client, "/portal/settings/tokens")
        .await
        .text()
        .await
        .expect("page");
    assert!(!again.contains(&secret), "shown once only");
    assert!(
        again.contains(&secret[..10]),
        "the prefix tells tokens apart"
    );

    // Stored as a hash only.
    let (owner, scope, _) = user_of(&app, "owner@clinic.test");
    let mut conn = app.db.get().expect("connection");
    let stored = api_tokens::list(&mut conn, &scope, Some(owner.0)).expect("tokens");
    drop(conn);
    assert_eq!(stored.len(), 1);
    let row = &stored[0].token;
    assert_eq!(row.token_hash, payerwatch::domain::api_token::hash(&secret));
    assert_ne!(row.token_hash, secret);
    assert_eq!(row.role_cap, "owner");

    // Works as a bearer token; the same browser's cookie does not.
    let me = json(get(&app, "/api/v1/me", &secret).await).await;
    assert_eq!(me["role"], "owner");
    assert_eq!(me["user"]["email"], "owner@clinic.test");
    assert_eq!(me["tenant"]["name"], "Clinic");
    let cookie_only = client
        .get(app.url("/api/v1/me"))
        .send()
        .await
        .expect("sent");
    assert_eq!(
        cookie_only
            .headers()
            .get("www-authenticate")
            .map(|v| v.to_str().expect("ascii").to_string())
            .unwrap_or_default(),
        "Bearer realm=\"payerwatch\""
    );
    expect_problem(cookie_only, 401).await;
    // A token never opens a page.
    let page_with_token = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(app.url("/portal"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("sent");
    assert_eq!(
        page_with_token.status(),
        303,
        "tokens never authenticate pages"
    );

    // A cap above the owner's role is refused; a lower cap holds.
    let analyst_pw = app.create_user("Clinic", "ana@clinic.test", Role::Analyst, false);
    let analyst = new_client();
    app.login_with(&analyst, "ana@clinic.test", &analyst_pw)
        .await;
    let refused = token_via_page(&app, &analyst, &[("name", "too much"), ("role", "admin")]).await;
    assert_eq!(refused.status(), 400);
    let too_long = token_via_page(
        &app,
        &analyst,
        &[("name", "long"), ("expires_in_days", "400")],
    )
    .await;
    assert_eq!(too_long.status(), 400);
    let capped_page = token_via_page(&app, &client, &[("name", "read only"), ("role", "viewer")])
        .await
        .text()
        .await
        .expect("page");
    let capped = shown_secret(&capped_page).expect("token");
    assert_eq!(
        json(get(&app, "/api/v1/me", &capped).await).await["role"],
        "viewer"
    );
    let res = call(&app, reqwest::Method::POST, "/api/v1/runs", Some(&capped)).await;
    expect_problem(res, 403).await;

    // Analysts see their own tokens; admins and owners all of the tenant's.
    let analyst_page = token_via_page(&app, &analyst, &[("name", "analyst script")])
        .await
        .text()
        .await
        .expect("page");
    let analyst_token = shown_secret(&analyst_page).expect("token");
    let analyst_list = app
        .get_with(&analyst, "/portal/settings/tokens")
        .await
        .text()
        .await
        .expect("page");
    assert!(!analyst_list.contains("owner export"));
    let owner_list = app
        .get_with(&client, "/portal/settings/tokens")
        .await
        .text()
        .await
        .expect("page");
    assert!(owner_list.contains("analyst script") && owner_list.contains("ana@clinic.test"));
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let viewer = new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    assert_eq!(
        app.get_with(&viewer, "/portal/settings/tokens")
            .await
            .status(),
        403
    );

    // Demoted owner: the token drops to the new role at once; deactivated: 401.
    let (ana, _, _) = user_of(&app, "ana@clinic.test");
    let res = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/runs",
        Some(&analyst_token),
    )
    .await;
    assert_eq!(res.status(), 202);
    let mut conn = app.db.get().expect("connection");
    payerwatch::db::repo::users::set_role(&mut conn, &scope, ana.0, Role::Viewer).expect("demote");
    drop(conn);
    let res = call(
        &app,
        reqwest::Method::POST,
        "/api/v1/runs",
        Some(&analyst_token),
    )
    .await;
    expect_problem(res, 403).await;
    let mut conn = app.db.get().expect("connection");
    payerwatch::db::repo::users::set_active(&mut conn, &scope, ana.0, false).expect("deactivate");
    drop(conn);
    expect_problem(get(&app, "/api/v1/me", &analyst_token).await, 401).await;

    // The owner (an admin) revokes the analyst's token on the page: 401 from then on.
    let mut conn = app.db.get().expect("connection");
    let all = api_tokens::list(&mut conn, &scope, None).expect("tokens");
    drop(conn);
    let target = all
        .iter()
        .find(|t| t.token.name == "owner export")
        .expect("token")
        .token
        .id;
    let res = app
        .post_form_with(
            &client,
            "/portal/settings/tokens",
            "/portal/settings/tokens",
            &[("action", "revoke"), ("token_id", &target.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
    expect_problem(get(&app, "/api/v1/me", &secret).await, 401).await;

    // Expired: refused, and the use is audited.
    let expired = token_for(&app, "owner@clinic.test").await;
    {
        use diesel::prelude::*;
        use payerwatch::db::schema::api_tokens as t;
        let mut conn = app.db.get().expect("connection");
        diesel::update(
            t::table.filter(t::token_hash.eq(payerwatch::domain::api_token::hash(&expired))),
        )
        .set(t::expires_at.eq(payerwatch::db::repo::now() - chrono::Duration::minutes(1)))
        .execute(&mut *conn)
        .expect("expire");
    }
    expect_problem(get(&app, "/api/v1/me", &expired).await, 401).await;
    // Garbage, wrong checksum and unknown tokens: 401 as well.
    for bad in ["nonsense", &format!("{}x", &expired[..51]), "pw_"] {
        expect_problem(get(&app, "/api/v1/me", bad).await, 401).await;
    }
    let mut conn = app.db.get().expect("connection");
    let actions: Vec<String> = {
        use diesel::prelude::*;
        use payerwatch::db::schema::audit_events as a;
        a::table
            .filter(a::action.like("api_token.%"))
            .select(a::action)
            .load(&mut *conn)
            .expect("audit")
    };
    for action in [
        "api_token.created",
        "api_token.revoked",
        "api_token.used_after_expiry",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} audited: {actions:?}"
        );
    }
}

/// Generated claims with injected drift, uploaded through the API, analysed by the job
/// workers: the fixture of the role, tenancy and PHI tests.
async fn tenant_with_findings(app: &TestApp, token: &str) -> (i64, i64, i64) {
    let mut csv = Vec::new();
    generate(
        &GenOptions {
            rows: 6_000,
            seed: 11,
            ..GenOptions::default()
        },
        &mut csv,
    )
    .expect("generated");
    let res = api_upload(app, token, "claims.csv", csv, "text/csv").await;
    assert_eq!(res.status(), 202);
    let upload: Value = json(res).await;
    let upload_id = upload["id"].as_i64().expect("id");
    finished(app, token, upload_id).await;
    let runs = analytics_done(app, token).await;
    // Every succeeded run reports the claims its windows covered (SPEC §9).
    for run in runs["items"].as_array().expect("items") {
        if run["status"] == "succeeded" {
            assert!(
                run["claims_covered"].as_i64().is_some_and(|n| n > 0),
                "claims covered: {run}"
            );
        }
    }
    let findings = json(get(app, "/api/v1/findings?limit=500", token).await).await;
    let finding_id = findings["items"][0]["id"].as_i64().expect("a finding");
    let alerts = json(get(app, "/api/v1/alerts", token).await).await;
    let alert_id = alerts["items"][0]["id"].as_i64().expect("an alert");
    (upload_id, finding_id, alert_id)
}

#[actix_web::test]
async fn roles_tenants_and_problem_shapes() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_MAX_UPLOAD_BYTES", "1048576".to_string())],
        ..SpawnOptions::default()
    })
    .await;
    let viewer = member(&app, "Clinic", "v@clinic.test", Role::Viewer).await;
    let analyst = member(&app, "Clinic", "a@clinic.test", Role::Analyst).await;
    let admin = member(&app, "Clinic", "ad@clinic.test", Role::Admin).await;
    let stranger = member(&app, "Other", "o@other.test", Role::Owner).await;
    let (upload_id, finding_id, alert_id) = tenant_with_findings(&app, &analyst).await;

    // Reads: every role.
    let reads = [
        "/api/v1/me".to_string(),
        "/api/v1/uploads".to_string(),
        format!("/api/v1/uploads/{upload_id}"),
        format!("/api/v1/uploads/{upload_id}/rejections"),
        "/api/v1/findings".to_string(),
        "/api/v1/drift-events".to_string(),
        format!("/api/v1/findings/{finding_id}"),
        "/api/v1/alerts".to_string(),
        format!("/api/v1/alerts/{alert_id}"),
        "/api/v1/runs".to_string(),
    ];
    for token in [&viewer, &analyst, &admin] {
        for path in &reads {
            assert_eq!(get(&app, path, token).await.status(), 200, "{path}");
        }
    }
    // Writes: analyst and up; delete: admin.
    let judgment = |verdict: &str| serde_json::json!({"verdict": verdict, "note": "seen it"});
    let judge_path = format!("/api/v1/alerts/{alert_id}/judgment");
    let status_path = format!("/api/v1/alerts/{alert_id}/status");
    expect_problem(
        post_json(&app, &judge_path, &viewer, judgment("real")).await,
        403,
    )
    .await;
    expect_problem(
        post_json(
            &app,
            &status_path,
            &viewer,
            serde_json::json!({"status": "acknowledged"}),
        )
        .await,
        403,
    )
    .await;
    expect_problem(
        call(&app, reqwest::Method::POST, "/api/v1/runs", Some(&viewer)).await,
        403,
    )
    .await;
    expect_problem(
        api_upload(
            &app,
            &viewer,
            "x.csv",
            claims_csv().into_bytes(),
            "text/csv",
        )
        .await,
        403,
    )
    .await;
    let judged = json(post_json(&app, &judge_path, &analyst, judgment("real")).await).await;
    assert_eq!(judged["judgments"][0]["verdict"], "real");
    let res = post_json(
        &app,
        &status_path,
        &analyst,
        serde_json::json!({"status": "acknowledged"}),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["status"], "acknowledged");
    // 409: an acknowledged alert cannot be acknowledged again.
    expect_problem(
        post_json(
            &app,
            &status_path,
            &analyst,
            serde_json::json!({"status": "acknowledged"}),
        )
        .await,
        409,
    )
    .await;
    let delete_path = format!("/api/v1/uploads/{upload_id}");
    expect_problem(
        call(&app, reqwest::Method::DELETE, &delete_path, Some(&analyst)).await,
        403,
    )
    .await;
    // Admin may delete, but not while claims exist.
    expect_problem(
        call(&app, reqwest::Method::DELETE, &delete_path, Some(&admin)).await,
        409,
    )
    .await;

    // Another tenant: 404 on every {id} route, nothing changed.
    let id_routes = [
        (reqwest::Method::GET, format!("/api/v1/uploads/{upload_id}")),
        (
            reqwest::Method::GET,
            format!("/api/v1/uploads/{upload_id}/rejections"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/api/v1/uploads/{upload_id}"),
        ),
        (
            reqwest::Method::GET,
            format!("/api/v1/findings/{finding_id}"),
        ),
        (reqwest::Method::GET, format!("/api/v1/alerts/{alert_id}")),
    ];
    for (method, path) in id_routes {
        expect_problem(call(&app, method, &path, Some(&stranger)).await, 404).await;
    }
    expect_problem(
        post_json(&app, &judge_path, &stranger, judgment("noise")).await,
        404,
    )
    .await;
    expect_problem(
        post_json(
            &app,
            &status_path,
            &stranger,
            serde_json::json!({"status": "resolved"}),
        )
        .await,
        404,
    )
    .await;
    let after = json(get(&app, &format!("/api/v1/alerts/{alert_id}"), &analyst).await).await;
    assert_eq!(after["status"], "acknowledged");
    assert_eq!(after["judgments"].as_array().map(Vec::len), Some(1));
    assert!(
        json(get(&app, "/api/v1/findings", &stranger).await).await["items"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );

    // `from` / `to` name the current window's last day, as the portal's feed filter does;
    // `current_end` is exclusive (the day after that last day).
    let finding = json(get(&app, &format!("/api/v1/findings/{finding_id}"), &viewer).await).await;
    let end = chrono::NaiveDate::parse_from_str(
        finding["current_end"].as_str().expect("current_end"),
        "%Y-%m-%d",
    )
    .expect("a date");
    let last_day = end.pred_opt().expect("a day before");
    let listed = |body: Value| {
        body["items"]
            .as_array()
            .is_some_and(|items| items.iter().any(|i| i["id"].as_i64() == Some(finding_id)))
    };
    for (query, expected) in [
        (format!("from={last_day}"), true),
        (format!("from={end}"), false),
        (format!("to={last_day}"), true),
        (format!("to={}", last_day.pred_opt().expect("day")), false),
        (format!("from={last_day}&to={last_day}"), true),
    ] {
        let body = json(
            get(
                &app,
                &format!("/api/v1/findings?limit=500&{query}"),
                &viewer,
            )
            .await,
        )
        .await;
        assert_eq!(listed(body), expected, "{query}");
    }

    // Problem shapes of the other statuses.
    let bad = expect_problem(get(&app, "/api/v1/uploads?limit=501", &viewer).await, 400).await;
    assert_eq!(bad["errors"][0]["name"], "limit");
    for refused in ["huge", "0.5"] {
        expect_problem(
            get(
                &app,
                &format!("/api/v1/findings?min_severity={refused}"),
                &viewer,
            )
            .await,
            400,
        )
        .await;
    }
    expect_problem(get(&app, "/api/v1/nothing-here", &viewer).await, 404).await;
    let unprocessable = expect_problem(
        post_json(
            &app,
            &judge_path,
            &analyst,
            serde_json::json!({"note": "x"}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(unprocessable["errors"][0]["name"], "verdict");
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/uploads"))
        .bearer_auth(&admin)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("sent");
    expect_problem(res, 415).await;
    let big = vec![b'a'; 1_200_000];
    let res = reqwest::Client::new()
        .post(app.url("/api/v1/uploads?filename=big.csv"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(big)
        .send()
        .await
        .expect("sent");
    expect_problem(res, 413).await;
    // A PHI note is refused by name, its text never echoed.
    let phi = expect_problem(
        post_json(
            &app,
            &judge_path,
            &analyst,
            serde_json::json!({"verdict": "real", "note": PHI_TEXT}),
        )
        .await,
        422,
    )
    .await;
    assert_eq!(phi["errors"][0]["name"], "note");
    assert!(!phi.to_string().contains("867-5309"));

    // ETag on single resources.
    let res = get(&app, &format!("/api/v1/findings/{finding_id}"), &viewer).await;
    let etag = res.headers()["etag"].to_str().expect("ascii").to_string();
    let finding = json(res).await;
    // The chart's weeks: at most 26, from the first week with data (so the first has a
    // value), the last ending where the finding's current window ends.
    let series = finding["series"].as_array().expect("series");
    assert!((2..=26).contains(&series.len()), "{} weeks", series.len());
    assert!(series[0]["value"].is_number(), "{}", series[0]);
    let last_start = series[series.len() - 1]["week_start"]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .expect("week start");
    let current_end = finding["current_end"]
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .expect("current_end");
    assert_eq!(last_start + chrono::Duration::days(7), current_end);
    assert!(finding["evidence"].is_object());
    let res = reqwest::Client::new()
        .get(app.url(&format!("/api/v1/findings/{finding_id}")))
        .bearer_auth(&viewer)
        .header("if-none-match", &etag)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 304);
}

#[actix_web::test]
async fn api_uploads_count_as_form_uploads_and_never_echo_phi() {
    let app = spawn_app().await;
    let form_pw = app.create_user("Form", "f@form.test", Role::Analyst, false);
    let token = member(&app, "Api", "a@api.test", Role::Analyst).await;
    let client = new_client();
    app.login_with(&client, "f@form.test", &form_pw).await;
    let mut x12 = Vec::new();
    generate_835(
        &GenOptions {
            rows: 400,
            seed: 5,
            ..GenOptions::default()
        },
        &mut x12,
    )
    .expect("835");

    for (name, bytes, mime) in [
        ("claims.csv", claims_csv().into_bytes(), "text/csv"),
        ("remit.835", x12.clone(), "application/edi-x12"),
    ] {
        // Through the form.
        let page = app
            .get_with(&client, "/portal/uploads")
            .await
            .text()
            .await
            .expect("page");
        let part = reqwest::multipart::Part::bytes(bytes.clone())
            .file_name(name.to_string())
            .mime_str("text/csv")
            .expect("mime");
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", csrf_token(&page).expect("token"))
            .part("file", part);
        let res = client
            .post(app.url("/portal/uploads"))
            .multipart(form)
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 303);
        let form_id: i64 = crate::common::location(&res)
            .rsplit('/')
            .next()
            .and_then(|s| s.parse().ok())
            .expect("upload id");
        // Through the API: the file as the body this time.
        let res = reqwest::Client::new()
            .post(app.url(&format!("/api/v1/uploads?filename={name}")))
            .bearer_auth(&token)
            .header("content-type", mime)
            .body(bytes.clone())
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 202);
        let location = res.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_string();
        let api_id = json(res).await["id"].as_i64().expect("id");
        assert_eq!(location, format!("/api/v1/uploads/{api_id}"));
        let api = finished(&app, &token, api_id).await;
        let (_, form_scope, _) = user_of(&app, "f@form.test");
        let form_upload = {
            let mut conn = app.db.get().expect("connection");
            loop {
                let u = payerwatch::db::repo::uploads::find(&mut conn, &form_scope, form_id)
                    .expect("upload");
                if u.status != "processing" {
                    break u;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        };
        assert_eq!(api["status"], form_upload.status, "{name}");
        assert_eq!(api["total_rows"], form_upload.total_rows, "{name}");
        assert_eq!(api["accepted_rows"], form_upload.accepted_rows, "{name}");
        assert_eq!(api["rejected_rows"], form_upload.rejected_rows, "{name}");
        assert!(api["total_rows"].as_i64() > Some(0));
        if name.ends_with(".835") {
            assert!(
                api["quality_report"]["x12"].is_object(),
                "835 detected: {api}"
            );
        }
    }

    // The rejected PHI row's text appears in no answer of the API.
    let mut seen = String::new();
    let uploads = json(get(&app, "/api/v1/uploads", &token).await).await;
    seen.push_str(&uploads.to_string());
    for item in uploads["items"].as_array().expect("items") {
        let id = item["id"].as_i64().expect("id");
        seen.push_str(
            &get(&app, &format!("/api/v1/uploads/{id}"), &token)
                .await
                .text()
                .await
                .expect("body"),
        );
        let rejections = get(
            &app,
            &format!("/api/v1/uploads/{id}/rejections?limit=500"),
            &token,
        )
        .await
        .text()
        .await
        .expect("body");
        seen.push_str(&rejections);
    }
    assert!(
        seen.contains("CO-16") || seen.contains("denial_reason_text"),
        "rejections listed"
    );
    for fragment in ["Jennifer", "867-5309", PHI_TEXT] {
        assert!(
            !seen.contains(fragment),
            "PHI '{fragment}' in an API answer"
        );
    }
}

#[actix_web::test]
async fn rate_limit_per_token_answers_429_with_retry_after() {
    let app = spawn_app().await;
    let token = member(&app, "Clinic", "a@clinic.test", Role::Analyst).await;
    // Sent in concurrent waves over one client: a slow machine must not refill the
    // bucket between requests.
    let client = reqwest::Client::new();
    let mut limited = None;
    for _ in 0..4 {
        let answers = futures_util::future::join_all(
            (0..25).map(|_| client.get(app.url("/api/v1/me")).bearer_auth(&token).send()),
        )
        .await;
        for res in answers.into_iter().flatten() {
            assert!(res.headers().contains_key("ratelimit-remaining"));
            if res.status() == 429 && limited.is_none() {
                limited = Some(res);
            }
        }
        if limited.is_some() {
            break;
        }
    }
    let res = limited.expect("429 within 100 requests");
    let retry: u64 = res.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!(retry >= 1);
    assert_eq!(res.headers()["ratelimit-remaining"], "0");
    expect_problem(res, 429).await;
    // Platform staff hold no tenant data: a staff owner's token is refused.
    let staff = member(&app, "Clinic", "s@clinic.test", Role::Owner).await;
    {
        use diesel::prelude::*;
        use payerwatch::db::schema::users as u;
        let mut conn = app.db.get().expect("connection");
        diesel::update(u::table.filter(u::email.eq("s@clinic.test")))
            .set(u::is_staff.eq(true))
            .execute(&mut *conn)
            .expect("staff");
    }
    expect_problem(get(&app, "/api/v1/me", &staff).await, 401).await;
    // Another token of the same tenant is not affected.
    let other = member(&app, "Clinic", "b@clinic.test", Role::Viewer).await;
    assert_eq!(get(&app, "/api/v1/me", &other).await.status(), 200);
}

#[actix_web::test]
async fn cursor_pagination_visits_every_row_once_while_rows_are_added() {
    let app = spawn_app().await;
    let token = member(&app, "Clinic", "a@clinic.test", Role::Viewer).await;
    let (user, scope, _) = user_of(&app, "a@clinic.test");
    let insert = |n: usize| -> Vec<i64> {
        let mut conn = app.db.get().expect("connection");
        (0..n)
            .map(|i| {
                payerwatch::db::repo::uploads::insert_processing(
                    &mut conn,
                    &scope,
                    &format!("file-{i}.csv"),
                    Some(user.0),
                )
                .expect("upload")
            })
            .collect()
    };
    let original: BTreeSet<i64> = insert(23).into_iter().collect();
    let mut seen: Vec<i64> = Vec::new();
    let mut path = "/api/v1/uploads?limit=4".to_string();
    loop {
        let res = get(&app, &path, &token).await;
        assert_eq!(res.status(), 200);
        let link = res
            .headers()
            .get("link")
            .map(|v| v.to_str().expect("ascii").to_string());
        let body = json(res).await;
        for item in body["items"].as_array().expect("items") {
            seen.push(item["id"].as_i64().expect("id"));
        }
        // Rows keep arriving while the client pages.
        insert(2);
        match body["next"].as_str() {
            Some(next) => {
                assert_eq!(link, Some(format!("<{next}>; rel=\"next\"")));
                path = next.to_string();
            }
            None => {
                assert!(link.is_none());
                break;
            }
        }
    }
    let unique: BTreeSet<i64> = seen.iter().copied().collect();
    assert_eq!(unique.len(), seen.len(), "no row twice");
    assert!(
        original.is_subset(&unique),
        "every row that existed at the start"
    );
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, in order"
    );
    expect_problem(
        get(&app, "/api/v1/uploads?cursor=garbage", &token).await,
        400,
    )
    .await;
}

#[actix_web::test]
async fn the_document_and_reference_page_are_public() {
    let app = spawn_app().await;
    let res = call(&app, reqwest::Method::GET, "/api/v1/openapi.json", None).await;
    assert_eq!(res.status(), 200);
    let doc = json(res).await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/api/v1/alerts/{id}/judgment"]["post"].is_object());
    // The document says what the API accepts: severity labels, not numbers (issue 19).
    let min_severity = doc["paths"]["/api/v1/findings"]["get"]["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "min_severity")
        .expect("min_severity documented")["description"]
        .as_str()
        .expect("described")
        .to_string();
    assert!(
        min_severity.contains("low, medium, high or critical") && !min_severity.contains("0 to 1"),
        "{min_severity}"
    );
    let res = call(&app, reqwest::Method::GET, "/api/docs", None).await;
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert!(csp.contains("script-src 'self'"));
    let page = res.text().await.expect("page");
    assert!(page.contains("POST /api/v1/uploads") && page.contains("problem-429"));
    assert!(
        !page.contains("<script>"),
        "no inline script on the reference page"
    );
    expect_problem(
        call(&app, reqwest::Method::GET, "/api/v1/me", None).await,
        401,
    )
    .await;
}

/// docs/api.md's worked example, run as it is written: token from the tokens page, a
/// generated claims file with drift, curl against the live app.
#[actix_web::test]
async fn the_worked_example_runs_verbatim() {
    let doc = include_str!("../../docs/api.md");
    let start = doc.find("```bash\n").expect("a bash block") + "```bash\n".len();
    let script = &doc[start..start + doc[start..].find("```").expect("closed")];
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let client = new_client();
    app.login_with(&client, "analyst@clinic.test", &password)
        .await;
    let page = token_via_page(&app, &client, &[("name", "worked example")])
        .await
        .text()
        .await
        .expect("page");
    let token = shown_secret(&page).expect("token");
    let dir = tempfile::tempdir().expect("dir");
    let mut csv = Vec::new();
    generate(
        &GenOptions {
            rows: 6_000,
            seed: 3,
            ..GenOptions::default()
        },
        &mut csv,
    )
    .expect("generated");
    std::fs::write(dir.path().join("claims.csv"), csv).expect("written");
    let (script, base, cwd) = (
        script.to_string(),
        app.address.clone(),
        dir.path().to_path_buf(),
    );
    let out = actix_web::rt::task::spawn_blocking(move || {
        std::process::Command::new("timeout")
            .args(["180", "bash", "-euo", "pipefail", "-c", &script])
            .env("PW", base)
            .env("TOKEN", token)
            .current_dir(cwd)
            .output()
            .expect("bash runs")
    })
    .await
    .expect("joined");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"role\":\"analyst\""), "{stdout}");
    assert!(stdout.contains("\"verdict\":\"real\""), "{stdout}");
}
