//! The web upload: streamed multipart through the real pipeline, the upload page,
//! rejections.csv and deletion, with roles, CSRF, limits and tenants — on both databases.

use std::time::Duration;

use payerwatch::domain::roles::Role;

use crate::common::{
    SpawnOptions, TestApp, csrf_token, location, new_client, spawn_app, spawn_app_with,
};

const HEADER: &str = "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n";

fn claims_csv() -> String {
    let mut csv = String::from(HEADER);
    for i in 0..30 {
        csv.push_str(&format!(
            "Aetna,99213,2026-10-{:02},2026-11-01,DENIED,100.00,CO-197,Precertification absent\n",
            1 + i % 28
        ));
    }
    csv.push_str("Aetna,99213,2026-10-01,2026-11-01,DENIED,100.00,CO-16,Called patient Jennifer at (555) 867-5309\n");
    csv.push_str("Aetna,9921,2026-10-01,2026-11-01,PAID,100.00,,\n");
    csv
}

async fn upload_with(
    app: &TestApp,
    client: &reqwest::Client,
    name: &str,
    csv: impl Into<Vec<u8>>,
    token: Option<String>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    if let Some(token) = token {
        form = form.text("csrf_token", token);
    }
    let part = reqwest::multipart::Part::bytes(csv.into())
        .file_name(name.to_string())
        .mime_str("text/csv")
        .expect("mime");
    client
        .post(app.url("/portal/uploads"))
        .multipart(form.part("file", part))
        .send()
        .await
        .expect("sent")
}

async fn form_token(app: &TestApp, client: &reqwest::Client) -> String {
    csrf_token(
        &app.get_with(client, "/portal/uploads")
            .await
            .text()
            .await
            .expect("page"),
    )
    .expect("token")
}

/// Waits until the upload's page no longer says it is queued or processing.
async fn finished_page(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    for _ in 0..100 {
        let page = app.get_with(client, path).await.text().await.expect("page");
        if !page.contains("Processing…") && !page.contains("Queued…") {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} still processing");
}

#[actix_web::test]
async fn an_analyst_uploads_a_file_and_reads_its_report_without_phi() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let token = form_token(&app, &app.client).await;
    let res = upload_with(&app, &app.client, "october.csv", claims_csv(), Some(token)).await;
    assert_eq!(res.status(), 303);
    let path = location(&res);
    assert!(path.starts_with("/portal/uploads/"), "{path}");

    let page = finished_page(&app, &app.client, &path).await;
    assert!(page.contains("partial"), "some rows rejected");
    assert!(
        page.contains("Looks like patient information") && page.contains("Not a CPT code"),
        "reasons in words"
    );
    assert!(!page.contains("phi_suspected") && !page.contains("invalid_cpt"));
    assert!(
        !page.contains("Jennifer") && !page.contains("867-5309"),
        "PHI never shown"
    );
    let list = app.get("/portal/uploads").await.text().await.expect("list");
    assert!(list.contains("october.csv"));

    let csv = app.get(&format!("{path}/rejections.csv")).await;
    assert_eq!(csv.status(), 200);
    let body = csv.text().await.expect("csv");
    assert!(body.starts_with("row,column,reason"));
    assert!(
        body.contains("32,denial_reason_text,phi_suspected"),
        "{body}"
    );
    assert!(body.contains("33,cpt,invalid_cpt"), "{body}");
    assert!(!body.contains("Jennifer"));

    // The analytics ran after the upload.
    let mut waited = 0;
    loop {
        let page = app.get(&path).await.text().await.expect("page");
        if page.contains("new finding") || waited > 50 {
            assert!(
                page.contains("new finding"),
                "analytics listed on the upload page"
            );
            break;
        }
        waited += 1;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // The same bytes again: refused as a duplicate, linking to the first upload.
    let token = token_again(&app).await;
    let again = upload_with(
        &app,
        &app.client,
        "october-again.csv",
        claims_csv(),
        Some(token),
    )
    .await;
    let page = finished_page(&app, &app.client, &location(&again)).await;
    assert!(
        page.contains("failed") && page.contains(&format!("href=\"{path}\"")),
        "links to the earlier upload"
    );
}

async fn token_again(app: &TestApp) -> String {
    form_token(app, &app.client).await
}

#[actix_web::test]
async fn uploads_need_an_analyst_a_token_a_file_and_a_sane_size() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_MAX_UPLOAD_BYTES", "2000".into())],
        ..SpawnOptions::default()
    })
    .await;
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let analyst_pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);

    let viewer = new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    let viewer_token = form_token(&app, &viewer).await;
    let res = upload_with(&app, &viewer, "x.csv", claims_csv(), Some(viewer_token)).await;
    assert_eq!(res.status(), 403, "viewers cannot upload");
    assert!(
        !app.get_with(&viewer, "/portal/uploads")
            .await
            .text()
            .await
            .expect("page")
            .contains("enctype=\"multipart/form-data\"")
    );

    app.login("analyst@clinic.test", &analyst_pw).await;
    let small = || format!("{HEADER}Aetna,99213,2026-10-01,2026-11-01,PAID,1.00,,\n");
    assert_eq!(
        upload_with(&app, &app.client, "x.csv", small(), None)
            .await
            .status(),
        403,
        "no token"
    );
    assert_eq!(
        upload_with(&app, &app.client, "x.csv", small(), Some("forged".into()))
            .await
            .status(),
        403
    );
    let token = form_token(&app, &app.client).await;
    let no_file = app
        .client
        .post(app.url("/portal/uploads"))
        .multipart(reqwest::multipart::Form::new().text("csrf_token", token.clone()))
        .send()
        .await
        .expect("sent");
    assert_eq!(no_file.status(), 400);
    let big = format!(
        "{HEADER}{}",
        "Aetna,99213,2026-10-01,2026-11-01,PAID,1.00,,\n".repeat(100)
    );
    let res = upload_with(&app, &app.client, "big.csv", big, Some(token)).await;
    assert_eq!(res.status(), 413);
}

/// Issue 16 row 10: rejections.csv streams in keyset batches of 2,000 — an upload with
/// more rejections than two batches comes out whole, in row order, each row once.
#[actix_web::test]
async fn rejections_csv_streams_every_row_once_in_order() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let mut csv = claims_csv();
    for _ in 0..4_500 {
        csv.push_str("Aetna,9921,2026-10-01,2026-11-01,PAID,100.00,,\n");
    }
    let token = form_token(&app, &app.client).await;
    let res = upload_with(&app, &app.client, "many.csv", csv, Some(token)).await;
    assert_eq!(res.status(), 303);
    let path = location(&res);
    finished_page(&app, &app.client, &path).await;
    let res = app.get(&format!("{path}/rejections.csv")).await;
    assert_eq!(res.status(), 200);
    let body = res.text().await.expect("csv");
    let rows: Vec<i64> = body
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().expect("row").parse().expect("number"))
        .collect();
    assert_eq!(body.lines().next(), Some("row,column,reason"));
    assert!(rows.windows(2).all(|w| w[0] <= w[1]), "row order");
    let added: Vec<i64> = rows.iter().copied().filter(|r| *r >= 34).collect();
    assert_eq!(added.len(), 4_500, "every added row once");
    assert_eq!((added[0], added[4_499]), (34, 4_533));
}

/// Issue 16 row 19: the token is checked before any file is read (field order, or the
/// `X-CSRF-Token` header), and the other fields and the whole body are bounded.
#[actix_web::test]
async fn the_token_comes_before_the_file_and_the_form_is_bounded() {
    let app = spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_MAX_UPLOAD_BYTES", "100000".into())],
        ..SpawnOptions::default()
    })
    .await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &pw).await;
    let token = token_again(&app).await;
    let file = || {
        reqwest::multipart::Part::bytes(claims_csv().into_bytes())
            .file_name("x.csv")
            .mime_str("text/csv")
            .expect("mime")
    };
    let post = |form: reqwest::multipart::Form| {
        app.client
            .post(app.url("/portal/uploads"))
            .multipart(form)
            .send()
    };

    // A valid token after the file is too late: the file would already be spooled.
    let late = post(
        reqwest::multipart::Form::new()
            .part("file", file())
            .text("csrf_token", token.clone()),
    )
    .await
    .expect("sent");
    assert_eq!(late.status(), 403, "token after the file");

    // The header carries it just as well.
    let res = app
        .client
        .post(app.url("/portal/uploads"))
        .header("x-csrf-token", token.clone())
        .multipart(reqwest::multipart::Form::new().part("file", file()))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 303, "token in the header");
    let res = app
        .client
        .post(app.url("/portal/uploads"))
        .header("x-csrf-token", "forged")
        .multipart(
            reqwest::multipart::Form::new()
                .text("csrf_token", token.clone())
                .part("file", file()),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 403, "a forged header token");

    // Extra fields: bounded in number and in size, with a message naming the limit.
    let mut many = reqwest::multipart::Form::new().text("csrf_token", token.clone());
    for i in 0..9 {
        many = many.text(format!("extra{i}"), "x");
    }
    let res = post(many.part("file", file())).await.expect("sent");
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("more than 8 fields")
    );
    let res = post(
        reqwest::multipart::Form::new()
            .text("csrf_token", token.clone())
            .text("note", "n".repeat(2000))
            .part("file", file()),
    )
    .await
    .expect("sent");
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .expect("body")
            .contains("is longer than 1024 bytes")
    );

    // A body declared far above the limit is refused before it is read.
    let huge = reqwest::multipart::Part::bytes(vec![b'a'; 300_000])
        .file_name("huge.csv")
        .mime_str("text/csv")
        .expect("mime");
    let res = post(
        reqwest::multipart::Form::new()
            .text("csrf_token", token.clone())
            .part("file", huge),
    )
    .await;
    // The server may answer and close before the client has sent everything.
    if let Ok(res) = res {
        assert_eq!(res.status(), 413);
        assert!(res.text().await.expect("body").contains("limit"));
    }

    // Mapping imports follow the same rule.
    let mapping = reqwest::multipart::Part::bytes(b"alias,canonical\nAetna Inc,Aetna\n".to_vec())
        .file_name("aliases.csv")
        .mime_str("text/csv")
        .expect("mime");
    let res = app
        .client
        .post(app.url("/portal/settings/mappings"))
        .multipart(
            reqwest::multipart::Form::new()
                .text("table", "aliases")
                .part("file", mapping)
                .text("csrf_token", token.clone()),
        )
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 403, "mapping file before the token");
}

#[actix_web::test]
async fn deleting_is_refused_while_claims_exist_and_other_tenants_see_nothing() {
    let app = spawn_app().await;
    let admin_pw = app.create_user("Clinic", "admin@clinic.test", Role::Admin, false);
    let other_pw = app.create_user("Other", "admin@other.test", Role::Admin, false);
    app.login("admin@clinic.test", &admin_pw).await;
    let token = form_token(&app, &app.client).await;
    let res = upload_with(&app, &app.client, "claims.csv", claims_csv(), Some(token)).await;
    let path = location(&res);
    finished_page(&app, &app.client, &path).await;

    let other = new_client();
    app.login_with(&other, "admin@other.test", &other_pw).await;
    assert_eq!(app.get_with(&other, &path).await.status(), 404);
    assert_eq!(
        app.get_with(&other, &format!("{path}/rejections.csv"))
            .await
            .status(),
        404
    );
    let res = app
        .post_form_with(&other, "/portal/uploads", &format!("{path}/delete"), &[])
        .await;
    assert_eq!(res.status(), 404);

    let res = app.post_form(&path, &format!("{path}/delete"), &[]).await;
    assert_eq!(res.status(), 409);
    assert!(res.text().await.expect("body").contains("still has claims"));
    assert_eq!(app.get(&path).await.status(), 200, "the upload stays");

    // A failed upload (no claims) can be deleted.
    let token = form_token(&app, &app.client).await;
    let res = upload_with(
        &app,
        &app.client,
        "broken.csv",
        "payer,cpt\nAetna,99213\n".to_string(),
        Some(token),
    )
    .await;
    let failed = location(&res);
    let page = finished_page(&app, &app.client, &failed).await;
    assert!(
        page.contains("failed") && page.contains("submitted_date"),
        "names the missing column"
    );
    let res = app
        .post_form(&failed, &format!("{failed}/delete"), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get(&failed).await.status(), 404);
}

#[actix_web::test]
async fn analysts_edit_mappings_viewers_read_them_and_phi_labels_are_refused() {
    let app = spawn_app().await;
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let analyst_pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let other_pw = app.create_user("Other", "analyst@other.test", Role::Analyst, false);
    let path = "/portal/settings/mappings";

    let viewer = new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    let page = app
        .get_with(&viewer, path)
        .await
        .text()
        .await
        .expect("page");
    assert!(
        page.contains("EVAL_MGMT") && page.contains("99202"),
        "default CPT groups listed"
    );
    let res = app
        .post_form_with(
            &viewer,
            path,
            path,
            &[
                ("action", "alias"),
                ("alias", "AETNA INC"),
                ("canonical", "Aetna"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);

    app.login("analyst@clinic.test", &analyst_pw).await;
    let res = app
        .post_form(
            path,
            path,
            &[
                ("action", "alias"),
                ("alias", "AETNA  inc"),
                ("canonical", "Aetna"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let res = app
        .post_form(
            path,
            path,
            &[
                ("action", "alias"),
                ("alias", "Called patient Jennifer"),
                ("canonical", "Aetna"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let refused = app.get(path).await.text().await.expect("page");
    assert!(
        refused.contains("patient information"),
        "the refusal names the problem"
    );
    assert!(!refused.contains("Jennifer"), "the value is not echoed");
    let res = app
        .post_form(
            path,
            path,
            &[
                ("action", "cpt_group"),
                ("code_start", "0001F"),
                ("code_end", ""),
                ("group_name", "quality"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let bad = app
        .post_form(
            path,
            path,
            &[
                ("action", "cpt_group"),
                ("code_start", "99999"),
                ("code_end", "10000"),
                ("group_name", "X"),
            ],
        )
        .await;
    assert_eq!(bad.status(), 400);
    let page = app.get(path).await.text().await.expect("page");
    assert!(
        page.contains("AETNA  inc") || page.contains("AETNA inc"),
        "alias saved"
    );
    assert!(page.contains("QUALITY") && page.contains("0001F"));
    assert!(
        !page.contains("Jennifer"),
        "PHI label neither stored nor echoed"
    );

    let other = new_client();
    app.login_with(&other, "analyst@other.test", &other_pw)
        .await;
    let theirs = app.get_with(&other, path).await.text().await.expect("page");
    assert!(
        !theirs.contains("AETNA") && !theirs.contains("QUALITY"),
        "mappings are per tenant"
    );
}

/// Issue 19 item 5: the outcome comes first (counts, score and what the file changed in
/// the analytics), then the reasons rows were rejected, in words with counts (non-zero
/// only, thousands separators, no code names), then a collapsed sample of the rejected
/// rows, then the file's details.
#[actix_web::test]
async fn the_upload_page_puts_the_outcome_first_then_reasons_in_words_then_a_collapsed_sample() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let mut csv = String::from(HEADER);
    for i in 0..1_500 {
        csv.push_str(&format!(
            "Aetna,99213,2026-10-{:02},2026-11-{:02},{},100.00,,\n",
            1 + i % 28,
            1 + i % 28,
            if i % 5 == 0 { "DENIED" } else { "PAID" }
        ));
    }
    for _ in 0..1_234 {
        csv.push_str("Aetna,99213,2026-13-45,2026-11-01,PAID,100.00,,\n");
    }
    for _ in 0..3 {
        csv.push_str("Aetna,99213,2026-10-01,2026-11-01,DENIED,0.00,CO-16,Called patient Jennifer at (555) 867-5309\n");
    }
    let token = form_token(&app, &app.client).await;
    let res = upload_with(&app, &app.client, "november.csv", csv, Some(token)).await;
    let path = location(&res);
    let mut page = finished_page(&app, &app.client, &path).await;
    for _ in 0..100 {
        if page.contains("new finding") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        page = app.get(&path).await.text().await.expect("page");
    }
    let at = |needle: &str| {
        page.find(needle)
            .unwrap_or_else(|| panic!("{needle} on the page: {page}"))
    };
    // Outcome first, then reasons, then the collapsed sample, then the details.
    assert!(at("id=\"outcome\"") < at("Why rows were rejected"));
    assert!(at("Why rows were rejected") < at("<details"));
    assert!(at("<details") < at("File details"));
    assert!(
        page.contains("1,500 of 2,737 rows were stored; 1,237 rejected"),
        "the outcome in one sentence, with separators: {page}"
    );
    assert!(at("What it changed in the analytics") < at("Why rows were rejected"));
    assert!(
        page.contains("href=\"/portal/drift\">DriftWatch</a>: ") && page.contains("new finding"),
        "its own analytics runs with what they found: {page}"
    );
    // Reasons in words with counts; zero-count reasons and code names never shown.
    let reasons = &page[at("Why rows were rejected")..at("<details")];
    assert!(reasons.contains("A date cannot be read"), "{reasons}");
    assert!(
        reasons.contains(">1,234<"),
        "thousands separators: {reasons}"
    );
    assert!(reasons.contains("Looks like patient information"));
    assert!(
        reasons.contains("Write dates as 2026-11-30"),
        "how to fix it"
    );
    assert!(
        at("A date cannot be read") < at("Looks like patient information"),
        "most frequent first"
    );
    assert!(!page.contains("Not a CPT code"), "no zero-count reason");
    for code in [
        "invalid_date",
        "phi_suspected",
        "missing_value",
        "invalid_cpt",
    ] {
        assert!(!page.contains(code), "no code name {code} on the page");
    }
    let sample = &page[at("<details")..at("</details>")];
    assert!(
        sample.contains("the first 100 of 1,237 problems")
            && sample.contains("A date cannot be read"),
        "{sample}"
    );
    assert!(
        !page.contains("Jennifer") && !page.contains("867-5309"),
        "no PHI"
    );
}

/// File errors read as sentences that say how to fix the file, with the column guide and
/// the template one click away.
#[actix_web::test]
async fn a_file_error_says_how_to_fix_the_file() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let token = form_token(&app, &app.client).await;
    let res = upload_with(
        &app,
        &app.client,
        "no-cpt.csv",
        "payer,submitted_date,decided_date,outcome\nAetna,2026-10-01,2026-11-01,PAID\n".to_string(),
        Some(token),
    )
    .await;
    let page = finished_page(&app, &app.client, &location(&res)).await;
    assert!(page.contains("The file was not stored"), "{page}");
    assert!(
        page.contains("Required column is missing: cpt. Add the missing columns to the header row"),
        "what is wrong, then how to fix it: {page}"
    );
    assert!(page.contains("href=\"/portal/uploads/columns\""));
    assert!(page.contains("href=\"/portal/uploads/template.csv\""));

    let token = token_again(&app).await;
    let mut utf16 = vec![0xff, 0xfe];
    for unit in "payer,cpt\nAetna,99213\n".encode_utf16() {
        utf16.extend_from_slice(&unit.to_le_bytes());
    }
    let res = upload_with(&app, &app.client, "excel.csv", utf16, Some(token)).await;
    let page = finished_page(&app, &app.client, &location(&res)).await;
    assert!(
        page.contains("The file is UTF-16 text")
            && page.contains("File → Save As → “CSV UTF-8 (comma delimited)”"),
        "{page}"
    );
}

/// The upload form links a CSV template and a column guide; the template uploads as is.
#[actix_web::test]
async fn the_form_links_a_csv_template_that_uploads_as_is_and_a_column_guide() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let list = app.get("/portal/uploads").await.text().await.expect("list");
    assert!(list.contains("href=\"/portal/uploads/template.csv\""));
    assert!(list.contains("href=\"/portal/uploads/columns\""));

    let template = app.get("/portal/uploads/template.csv").await;
    assert_eq!(template.status(), 200);
    let disposition = template
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(disposition.starts_with("attachment"), "{disposition}");
    let body = template.text().await.expect("template");
    assert!(body.starts_with(
        "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text"
    ));
    let token = form_token(&app, &app.client).await;
    let res = upload_with(&app, &app.client, "template.csv", body, Some(token)).await;
    let page = finished_page(&app, &app.client, &location(&res)).await;
    assert!(page.contains("All 3 rows were stored."), "{page}");

    let guide = app.get("/portal/uploads/columns").await;
    assert_eq!(guide.status(), 200);
    let guide = guide.text().await.expect("guide");
    let canonical = payerwatch::domain::claim::Column::ALL.map(|c| c.as_str());
    for name in canonical.iter().chain(&["procedure_code", "decision_date"]) {
        assert!(guide.contains(&format!("<code>{name}</code>")), "{name}");
    }
    assert!(guide.contains("Looks like patient information"));
}
