//! Mapping tables as CSV files: export, import (all or nothing, errors by line and column
//! without values), roles, CSRF and formula-injection safety — on both databases.

use payerwatch::domain::roles::Role;

use crate::common::{TestApp, csrf_token, location, new_client, spawn_app};

const PAGE: &str = "/portal/settings/mappings";

async fn page_token(app: &TestApp, client: &reqwest::Client) -> String {
    csrf_token(&app.get_with(client, PAGE).await.text().await.expect("page")).unwrap_or_default()
}

async fn import(
    app: &TestApp,
    client: &reqwest::Client,
    table: &str,
    csv: &str,
    token: Option<String>,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new().text("table", table.to_string());
    if let Some(token) = token {
        form = form.text("csrf_token", token);
    }
    let part = reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
        .file_name("mappings.csv")
        .mime_str("text/csv")
        .expect("mime");
    client
        .post(app.url(PAGE))
        .multipart(form.part("file", part))
        .send()
        .await
        .expect("sent")
}

fn audit_rows(app: &TestApp) -> Vec<(String, Option<String>, Option<String>)> {
    use diesel::prelude::*;
    use payerwatch::db::schema::audit_events;
    let mut conn = app.db.get().expect("connection");
    audit_events::table
        .order(audit_events::id.asc())
        .select((
            audit_events::action,
            audit_events::client_addr,
            audit_events::changed_fields,
        ))
        .load(&mut conn)
        .expect("audit rows")
}

async fn export(app: &TestApp, client: &reqwest::Client, file: &str) -> String {
    let res = app.get_with(client, &format!("{PAGE}/{file}")).await;
    assert_eq!(res.status(), 200, "{file}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/csv")
    );
    res.text().await.expect("csv")
}

#[actix_web::test]
async fn exported_tables_import_losslessly_into_another_tenant_and_stay_formula_safe() {
    let app = spawn_app().await;
    let a_pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let b_pw = app.create_user("Other", "analyst@other.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &a_pw).await;

    // Awkward labels made through the form: formulas, quotes, commas, a leading apostrophe.
    for (alias, canonical) in [
        ("=HYPERLINK(\"http://evil.example\",\"x\")", "Aetna"),
        ("AETNA  inc", "Aetna"),
        ("Blue, \"Cross\"", "+BCBS"),
        ("'quoted", "-Minus Health"),
        ("@Cigna", "Cigna"),
    ] {
        let res = app
            .post_form(
                PAGE,
                PAGE,
                &[
                    ("action", "alias"),
                    ("alias", alias),
                    ("canonical", canonical),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{alias}");
    }
    let res = app
        .post_form(
            PAGE,
            PAGE,
            &[
                ("action", "cpt_group"),
                ("code_start", "0001F"),
                ("code_end", "0015F"),
                ("group_name", "quality"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);

    let aliases = export(&app, &app.client, "aliases.csv").await;
    let groups = export(&app, &app.client, "cpt-groups.csv").await;
    assert!(aliases.starts_with("alias,canonical\r\n"), "{aliases}");
    assert!(
        aliases.contains("\"'=HYPERLINK(\"\"http://evil.example\"\",\"\"x\"\")\",Aetna\r\n"),
        "formula prefixed and RFC 4180 quoted: {aliases}"
    );
    assert!(aliases.contains("'@Cigna,Cigna\r\n"), "{aliases}");
    assert!(
        aliases.contains("\"Blue, \"\"Cross\"\"\",'+BCBS\r\n"),
        "{aliases}"
    );
    assert!(aliases.contains("''quoted,'-Minus Health\r\n"), "{aliases}");
    for line in aliases.lines().skip(1) {
        let first = line.trim_start_matches('"').as_bytes()[0];
        assert!(
            !matches!(first, b'=' | b'+' | b'-' | b'@'),
            "unsafe cell: {line}"
        );
    }
    assert!(groups.starts_with("code_start,code_end,group_name\r\n"));
    assert!(
        groups.contains("0001F,0015F,QUALITY\r\n") && groups.contains("99202,99215,EVAL_MGMT\r\n")
    );

    // Re-importing the export into the same tenant changes nothing.
    let token = page_token(&app, &app.client).await;
    let res = import(&app, &app.client, "aliases", &aliases, Some(token)).await;
    assert_eq!(res.status(), 303);
    let page = app.get(PAGE).await.text().await.expect("page");
    assert!(
        page.contains("0 added, 0 changed, 5 already up to date"),
        "{page}"
    );

    // Another tenant (default CPT table only) imports both files and exports the same.
    let other = new_client();
    app.login_with(&other, "analyst@other.test", &b_pw).await;
    let token = page_token(&app, &other).await;
    let res = import(&app, &other, "aliases", &aliases, Some(token.clone())).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), PAGE);
    let res = import(&app, &other, "cpt_groups", &groups, Some(token)).await;
    assert_eq!(res.status(), 303);
    let page = app.get_with(&other, PAGE).await.text().await.expect("page");
    assert!(
        page.contains("Imported CPT groups: 1 added, 0 changed"),
        "{page}"
    );
    assert_eq!(export(&app, &other, "aliases.csv").await, aliases);
    assert_eq!(export(&app, &other, "cpt-groups.csv").await, groups);

    // The audit trail has the imports and exports, field names only.
    let audit = audit_rows(&app);
    for action in ["mapping.import", "export.mappings_csv"] {
        let row = audit
            .iter()
            .find(|r| r.0 == action)
            .unwrap_or_else(|| panic!("{action} audited: {audit:?}"));
        assert_eq!(row.1.as_deref(), Some("127.0.0.0"), "anonymised address");
    }
    let import_row = audit
        .iter()
        .find(|r| r.0 == "mapping.import")
        .expect("import");
    assert_eq!(
        import_row.2.as_deref(),
        Some("alias,canonical"),
        "field names only"
    );
}

#[actix_web::test]
async fn a_bad_file_stores_nothing_and_names_lines_and_columns_never_values() {
    let app = spawn_app().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &pw).await;
    let token = page_token(&app, &app.client).await;
    let csv = "alias,canonical\n\
               Good Payer,Good Health\n\
               Called patient Jennifer,Aetna\n\
               UHC,\n\
               \"Mary\nSmith\",UHC\n\
               uhc ,United\n";
    let res = import(&app, &app.client, "aliases", csv, Some(token.clone())).await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.expect("page");
    assert!(page.contains("Nothing was imported"), "{page}");
    assert!(
        page.contains("Line 3, column alias: looks like it contains patient information (PHI)."),
        "{page}"
    );
    assert!(
        page.contains("Line 4, column canonical: a value is required."),
        "{page}"
    );
    assert!(!page.contains("Jennifer"), "the value is not echoed");
    assert!(
        !page.contains("Good Payer"),
        "nothing stored from a refused file"
    );

    let res = import(
        &app,
        &app.client,
        "cpt_groups",
        "code_start,code_end,group_name\n99213,99212,X\n1234,,LAB\n80000,,lab-x\n",
        Some(token.clone()),
    )
    .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.expect("page");
    assert!(page.contains("Line 2, column code_end: the last code is before the first."));
    assert!(page.contains("Line 3, column code_start: not a CPT code"));
    assert!(page.contains("Line 4, column group_name: may only use letters, digits and _."));

    let res = import(
        &app,
        &app.client,
        "aliases",
        "payer,name\nx,y\n",
        Some(token.clone()),
    )
    .await;
    assert_eq!(res.status(), 400);
    let page = res.text().await.expect("page");
    assert!(
        page.contains("lacks the columns alias, canonical"),
        "{page}"
    );

    let res = import(
        &app,
        &app.client,
        "bogus",
        "alias,canonical\nx,y\n",
        Some(token),
    )
    .await;
    assert_eq!(res.status(), 400);
    let groups = export(&app, &app.client, "cpt-groups.csv").await;
    assert_eq!(
        groups.lines().count(),
        6,
        "only the default table: {groups}"
    );
}

#[actix_web::test]
async fn viewers_cannot_import_or_export_and_imports_need_the_csrf_token() {
    let app = spawn_app().await;
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let analyst_pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let csv = "alias,canonical\nAETNA INC,Aetna\n";

    let viewer = new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    let page = app
        .get_with(&viewer, PAGE)
        .await
        .text()
        .await
        .expect("page");
    assert!(!page.contains("aliases.csv"), "no export link for viewers");
    let token = page_token(&app, &viewer).await;
    let res = import(&app, &viewer, "aliases", csv, Some(token)).await;
    assert_eq!(res.status(), 403);
    for file in ["aliases.csv", "cpt-groups.csv"] {
        let res = app.get_with(&viewer, &format!("{PAGE}/{file}")).await;
        assert_eq!(res.status(), 403, "{file}");
    }

    app.login("analyst@clinic.test", &analyst_pw).await;
    let res = import(&app, &app.client, "aliases", csv, None).await;
    assert_eq!(res.status(), 403, "missing token");
    let res = import(&app, &app.client, "aliases", csv, Some("forged".into())).await;
    assert_eq!(res.status(), 403, "wrong token");
    let aliases = export(&app, &app.client, "aliases.csv").await;
    assert_eq!(aliases, "alias,canonical\r\n", "nothing stored");

    let anonymous = new_client();
    let res = app
        .get_with(&anonymous, &format!("{PAGE}/aliases.csv"))
        .await;
    assert_eq!(res.status(), 303, "sign-in first");
}
