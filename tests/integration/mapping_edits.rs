//! Mappings edited, deleted and re-mapped from the page (issue 19 item 8), on both
//! databases: payer aliases and CPT ranges (a default one too) change or go with an audit
//! row in the same transaction, stored claims change only when an analyst presses
//! "Re-map stored claims now" (SPEC §2) — and then their payer, group, rollups and the
//! scorecard follow and an analytics run is requested. Viewers get 403, another tenant's
//! ids 404, a post without the CSRF token is refused.

use chrono::NaiveDate;
use diesel::prelude::*;
use payerwatch::db::repo::{jobs, mappings};
use payerwatch::db::schema::audit_events;
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::TenantScope;
use payerwatch::ingest::{self, IngestOptions, Limits, UploadRequest, UploadStatus};

use crate::common::{SpawnOptions, TestApp, location, new_client, spawn_app_with};

const PAGE: &str = "/portal/settings/mappings";

/// An app whose job workers are off: a requested analytics run stays queued to be seen.
async fn app_without_workers() -> TestApp {
    spawn_app_with(SpawnOptions {
        overrides: vec![("PAYERWATCH_JOB_WORKERS", "0".into())],
        ..SpawnOptions::default()
    })
    .await
}

/// One upload of `(payer, cpt, outcome)` rows, straight through the ingest.
fn upload(app: &TestApp, scope: TenantScope, rows: &[(&str, &str, &str)]) {
    let mut body = String::from("payer,cpt,submitted_date,decided_date,outcome,allowed_amount\n");
    for (payer, cpt, outcome) in rows {
        body.push_str(&format!(
            "\"{payer}\",{cpt},2026-11-02,2026-11-10,{outcome},100.00\n"
        ));
    }
    let req = UploadRequest {
        scope,
        file_name: "claims.csv".into(),
        uploaded_by: None,
        declared_size: None,
        limits: Limits::default(),
        today: NaiveDate::from_ymd_opt(2026, 11, 22).expect("date"),
    };
    let options = IngestOptions {
        no_analytics_request: true,
        ..IngestOptions::default()
    };
    let out = ingest::ingest(&app.db, &req, body.as_bytes(), &options).expect("upload");
    assert_eq!(out.status, UploadStatus::Succeeded);
}

fn aliases(app: &TestApp, scope: &TenantScope) -> Vec<mappings::PayerAlias> {
    let mut conn = app.db.get().expect("conn");
    mappings::list_payer_aliases(&mut conn, scope).expect("aliases")
}

fn groups(app: &TestApp, scope: &TenantScope) -> Vec<mappings::CptGroupRange> {
    let mut conn = app.db.get().expect("conn");
    mappings::list_cpt_groups(&mut conn, scope).expect("groups")
}

/// `(payer_raw, payer, claims)` of the stored claims, sorted.
fn stored_payers(app: &TestApp, scope: &TenantScope) -> Vec<(String, String, u64)> {
    let mut conn = app.db.get().expect("conn");
    let mut rows = mappings::spelling_claim_counts(&mut conn, scope).expect("counts");
    rows.sort();
    rows
}

/// `(cpt, group)` of the stored claims, sorted.
fn stored_groups(app: &TestApp, scope: &TenantScope) -> Vec<(String, String)> {
    let mut conn = app.db.get().expect("conn");
    let mut rows = mappings::distinct_claim_cpts(&mut conn, scope).expect("cpts");
    rows.sort();
    rows
}

/// `(action, target_type, target_id, changed_fields)` of the mapping audit rows.
type AuditRow = (String, Option<String>, Option<String>, Option<String>);

fn mapping_audit(app: &TestApp) -> Vec<AuditRow> {
    let mut conn = app.db.get().expect("conn");
    audit_events::table
        .filter(audit_events::action.like("mapping.%"))
        .order(audit_events::id.asc())
        .select((
            audit_events::action,
            audit_events::target_type,
            audit_events::target_id,
            audit_events::changed_fields,
        ))
        .load(&mut conn)
        .expect("audit")
}

async fn post(
    app: &TestApp,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    app.post_form_with(client, PAGE, PAGE, fields).await
}

async fn page(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let res = app.get_with(client, path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("page")
}

/// The scorecard's denial-rate row of `path`.
async fn denial_rate_row(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    let body = page(app, client, path).await;
    let at = body.find("<td>Denial rate</td>").expect("rate row");
    body[at..at + body[at..].find("</tr>").expect("row end")].to_string()
}

#[actix_web::test]
async fn analysts_edit_and_delete_aliases_and_cpt_ranges_with_an_audit_row_each() {
    let app = app_without_workers().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    let analyst = new_client();
    app.login_with(&analyst, "analyst@clinic.test", &pw).await;

    for (alias, canonical) in [("ACME HP", "Acme"), ("Zen", "Zenith")] {
        let res = post(
            &app,
            &analyst,
            &[
                ("action", "alias"),
                ("alias", alias),
                ("canonical", canonical),
            ],
        )
        .await;
        assert_eq!(res.status(), 303);
    }
    let acme = aliases(&app, &scope)
        .into_iter()
        .find(|a| a.alias == "ACME HP")
        .expect("alias");
    let html = page(&app, &analyst, PAGE).await;
    assert!(
        html.contains(&format!("?edit_alias={}#alias-form", acme.id)),
        "{html}"
    );
    assert!(html.contains("name=\"action\" value=\"alias_delete\""));
    assert!(html.contains("Re-map stored claims now") || !html.contains("payerwatch remap"));
    assert!(
        !html.contains("payerwatch remap"),
        "the page offers the button, not the CLI"
    );

    // The edit form comes filled in.
    let form = page(&app, &analyst, &format!("{PAGE}?edit_alias={}", acme.id)).await;
    assert!(form.contains("Edit alias"));
    assert!(form.contains("name=\"action\" value=\"alias_update\""));
    assert!(form.contains("value=\"ACME HP\"") && form.contains("value=\"Acme\""));

    // Edit: a new canonical payer (and spelling).
    let id = acme.id.to_string();
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "alias_update"),
            ("alias_id", &id),
            ("alias", "ACME Health Plan"),
            ("canonical", "Acme Health"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let flash = page(&app, &analyst, PAGE).await;
    assert!(flash.contains("The alias was saved"), "{flash}");
    assert!(flash.contains("Re-map stored claims now"));
    let now = aliases(&app, &scope);
    let edited = now.iter().find(|a| a.id == acme.id).expect("kept its id");
    assert_eq!(
        (
            edited.alias.as_str(),
            edited.canonical.as_str(),
            edited.alias_key.as_str()
        ),
        ("ACME Health Plan", "Acme Health", "acme health plan")
    );

    // Another alias's name in files: 409, nothing changed.
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "alias_update"),
            ("alias_id", &id),
            ("alias", "zen"),
            ("canonical", "Acme Health"),
        ],
    )
    .await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("Another alias already has that name in files (field"),
        "{body}"
    );
    // A PHI label: refused naming the field, the value neither stored nor echoed, the
    // edit form open again.
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "alias_update"),
            ("alias_id", &id),
            ("alias", "ACME Health Plan"),
            ("canonical", "Called patient Jennifer"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(location(&res).contains(&format!("edit_alias={id}")));
    let refused = page(&app, &analyst, &location(&res)).await;
    assert!(refused.contains("The canonical looks like it contains patient information"));
    assert!(!refused.contains("Jennifer"));
    // A missing field: 400 naming it.
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "alias_update"),
            ("alias_id", &id),
            ("alias", "ACME Health Plan"),
            ("canonical", " "),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("canonical") && body.contains("is required"),
        "{body}"
    );
    assert_eq!(aliases(&app, &scope), now, "refusals change nothing");

    // Delete.
    let res = post(
        &app,
        &analyst,
        &[("action", "alias_delete"), ("alias_id", &id)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert!(aliases(&app, &scope).iter().all(|a| a.id != acme.id));
    let res = post(
        &app,
        &analyst,
        &[("action", "alias_delete"), ("alias_id", &id)],
    )
    .await;
    assert_eq!(res.status(), 404, "already gone");

    // CPT ranges: a default range renamed and re-bounded, another default one deleted.
    let imaging = groups(&app, &scope)
        .into_iter()
        .find(|g| g.group_name == "IMAGING")
        .expect("default IMAGING range");
    let form = page(&app, &analyst, &format!("{PAGE}?edit_group={}", imaging.id)).await;
    assert!(form.contains("Edit CPT range") && form.contains("value=\"IMAGING\""));
    let gid = imaging.id.to_string();
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "cpt_group_update"),
            ("group_id", &gid),
            ("code_start", "70000"),
            ("code_end", "76999"),
            ("group_name", "radiology"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let g = groups(&app, &scope)
        .into_iter()
        .find(|g| g.id == imaging.id)
        .expect("kept its id");
    assert_eq!(
        (
            g.code_start.as_str(),
            g.code_end.as_str(),
            g.group_name.as_str()
        ),
        ("70000", "76999", "RADIOLOGY")
    );
    // Bounds out of order: 400; the bounds of another range: 409.
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "cpt_group_update"),
            ("group_id", &gid),
            ("code_start", "79999"),
            ("code_end", "70000"),
            ("group_name", "RADIOLOGY"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let lab = groups(&app, &scope)
        .into_iter()
        .find(|g| g.group_name == "LAB")
        .expect("default LAB range");
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "cpt_group_update"),
            ("group_id", &gid),
            ("code_start", &lab.code_start),
            ("code_end", &lab.code_end),
            ("group_name", "RADIOLOGY"),
        ],
    )
    .await;
    assert_eq!(res.status(), 409);
    let eval = groups(&app, &scope)
        .into_iter()
        .find(|g| g.group_name == "EVAL_MGMT")
        .expect("default EVAL_MGMT range");
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "cpt_group_delete"),
            ("group_id", &eval.id.to_string()),
        ],
    )
    .await;
    assert_eq!(res.status(), 303, "a default range may be deleted");
    assert!(
        groups(&app, &scope)
            .iter()
            .all(|g| g.group_name != "EVAL_MGMT")
    );

    // One audit row per change (names of fields only), none for refusals.
    let eid = eval.id.to_string();
    let audit: Vec<AuditRow> = mapping_audit(&app)
        .into_iter()
        .filter(|r| r.0 != "mapping.payer_alias")
        .collect();
    let row = |action: &str, target: &str, id: &str, fields: Option<&str>| {
        (
            action.to_string(),
            Some(target.to_string()),
            Some(id.to_string()),
            fields.map(str::to_string),
        )
    };
    assert_eq!(
        audit,
        vec![
            row(
                "mapping.payer_alias_changed",
                "payer_alias",
                &id,
                Some("alias,canonical")
            ),
            row("mapping.payer_alias_deleted", "payer_alias", &id, None),
            row(
                "mapping.cpt_group_changed",
                "cpt_group",
                &gid,
                Some("code_start,code_end,group_name")
            ),
            row("mapping.cpt_group_deleted", "cpt_group", &eid, None),
        ]
    );
    // Nothing was re-mapped and no run requested: edits never rewrite history on their own.
    let mut conn = app.db.get().expect("conn");
    assert!(
        jobs::open_analytics(&mut conn, &scope)
            .expect("jobs")
            .is_empty()
    );
}

#[actix_web::test]
async fn the_remap_button_moves_stored_claims_their_rollups_and_the_scorecard() {
    let app = app_without_workers().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    upload(
        &app,
        scope,
        &[
            ("Acme", "99213", "PAID"),
            ("Acme", "99213", "DENIED"),
            ("Zenith", "71045", "PAID"),
            ("Zenith", "71045", "PAID"),
        ],
    );
    let analyst = new_client();
    app.login_with(&analyst, "analyst@clinic.test", &pw).await;
    let acme_card = "/portal/payers/Acme";
    assert!(
        denial_rate_row(&app, &analyst, acme_card)
            .await
            .contains("50.0 %")
    );

    // Zenith is Acme now, and 71045 is its own group: saved, but stored claims stay.
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "alias"),
            ("alias", "zenith"),
            ("canonical", "Acme"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "cpt_group"),
            ("code_start", "71045"),
            ("code_end", ""),
            ("group_name", "chest_xray"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let before = stored_payers(&app, &scope);
    assert!(
        before.contains(&("Zenith".into(), "Zenith".into(), 2)),
        "{before:?}"
    );
    assert!(stored_groups(&app, &scope).contains(&("71045".into(), "IMAGING".into())));
    let html = page(&app, &analyst, PAGE).await;
    assert!(html.contains("name=\"action\" value=\"remap\""), "{html}");
    assert!(html.contains("The 4 claims already stored"));

    // The button queues a job (the app's workers are off here: the test runs it).
    let res = post(&app, &analyst, &[("action", "remap")]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), PAGE);
    let flash = page(&app, &analyst, PAGE).await;
    assert!(
        flash.contains("Re-mapping 1 payer spelling and 1 CPT code in the background"),
        "{flash}"
    );
    assert!(
        flash.contains(">Queued</span> A re-map of 1 payer spelling and 1 CPT code is queued"),
        "{flash}"
    );
    assert!(
        stored_payers(&app, &scope).contains(&("Zenith".into(), "Zenith".into(), 2)),
        "nothing moved at the request"
    );
    let owner = "test:remap";
    let job = {
        let mut conn = app.db.get().expect("conn");
        let queued = jobs::latest_of_kind(&mut conn, &scope, jobs::REMAP)
            .expect("jobs")
            .expect("a re-map job");
        let lease = chrono::Duration::seconds(60);
        jobs::claim_one(
            &mut conn,
            queued.id,
            owner,
            payerwatch::db::repo::now(),
            lease,
        )
        .expect("claim")
        .expect("claimed")
    };
    let running = page(&app, &analyst, PAGE).await;
    assert!(
        running.contains(">Running</span> Re-mapping in the background: 0 of 1 payer spelling and 1 CPT code done, 0 stored claims re-mapped so far."),
        "{running}"
    );
    let db = app.db.clone();
    let out = actix_web::rt::task::spawn_blocking(move || {
        payerwatch::services::mappings::run_remap(&db, &job, owner)
    })
    .await
    .expect("task")
    .expect("re-mapped");
    assert_eq!((out.payer_rows, out.cpt_group_rows), (2, 2));
    assert_eq!(
        out.steps, 2,
        "one transaction per spelling and per code: {out:?}"
    );
    let done = page(&app, &analyst, PAGE).await;
    assert!(
        done.contains(
            "4 stored claims re-mapped: 2 moved to another payer, 2 to another CPT group."
        ) && done.contains(">Done</span> Last re-map done ("),
        "{done}"
    );
    assert_eq!(
        stored_payers(&app, &scope),
        vec![
            ("Acme".into(), "Acme".into(), 2),
            ("Zenith".into(), "Acme".into(), 2)
        ]
    );
    assert!(stored_groups(&app, &scope).contains(&("71045".into(), "CHEST_XRAY".into())));
    // The rollups moved with the claims (what `payerwatch rollups --verify` checks).
    let db = app.db.clone();
    let differences = actix_web::rt::task::spawn_blocking(move || {
        payerwatch::services::rollups::verify(&db, &scope)
    })
    .await
    .expect("task")
    .expect("verify");
    assert!(differences.is_empty(), "{differences:#?}");
    {
        let mut conn = app.db.get().expect("conn");
        assert_eq!(
            mappings::payer_names(&mut conn, &scope).expect("payers"),
            ["Acme"],
            "the rollups know Acme only"
        );
        assert_eq!(
            jobs::open_analytics(&mut conn, &scope).expect("jobs").len(),
            1,
            "an analytics run is requested"
        );
    }
    // The scorecard on the next request: 1 of 4 denied; Zenith has no scorecard left.
    assert!(
        denial_rate_row(&app, &analyst, acme_card)
            .await
            .contains("25.0 %")
    );
    assert_eq!(
        app.get_with(&analyst, "/portal/payers/Zenith")
            .await
            .status(),
        404
    );

    // Again: nothing to do, said so, nothing queued; one audit row per press.
    let res = post(&app, &analyst, &[("action", "remap")]).await;
    assert_eq!(res.status(), 303);
    let flash = page(&app, &analyst, PAGE).await;
    assert!(flash.contains("no claim was re-mapped"), "{flash}");
    {
        let mut conn = app.db.get().expect("conn");
        let latest = jobs::latest_of_kind(&mut conn, &scope, jobs::REMAP)
            .expect("jobs")
            .expect("job");
        assert_eq!(latest.state, jobs::SUCCEEDED, "no second job queued");
    }
    let customer = scope.id().to_string();
    let remaps: Vec<AuditRow> = mapping_audit(&app)
        .into_iter()
        .filter(|r| r.0 == "mapping.remap")
        .collect();
    let expected = (
        "mapping.remap".to_string(),
        Some("customer".to_string()),
        Some(customer),
        Some("payer,cpt_group".to_string()),
    );
    assert_eq!(remaps, vec![expected.clone(), expected]);
}

#[actix_web::test]
async fn viewers_get_403_other_tenants_ids_404_and_posts_need_the_csrf_token() {
    let app = app_without_workers().await;
    let analyst_pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let viewer_pw = app.create_user("Clinic", "viewer@clinic.test", Role::Viewer, false);
    let other_pw = app.create_user("Other", "analyst@other.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    upload(
        &app,
        scope,
        &[("Acme", "99213", "PAID"), ("Zenith", "99213", "PAID")],
    );
    let analyst = new_client();
    app.login_with(&analyst, "analyst@clinic.test", &analyst_pw)
        .await;
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "alias"),
            ("alias", "Zenith"),
            ("canonical", "Acme"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let alias = aliases(&app, &scope).remove(0);
    let group = groups(&app, &scope).remove(0);
    let (aid, gid) = (alias.id.to_string(), group.id.to_string());
    let update_alias = [
        ("action", "alias_update"),
        ("alias_id", aid.as_str()),
        ("alias", "Zenith"),
        ("canonical", "Other"),
    ];
    let update_group = [
        ("action", "cpt_group_update"),
        ("group_id", gid.as_str()),
        ("code_start", "99202"),
        ("code_end", "99215"),
        ("group_name", "VISITS"),
    ];
    let writes: [&[(&str, &str)]; 5] = [
        &update_alias,
        &[("action", "alias_delete"), ("alias_id", aid.as_str())],
        &update_group,
        &[("action", "cpt_group_delete"), ("group_id", gid.as_str())],
        &[("action", "remap")],
    ];

    // A viewer reads the page without the buttons, and every write answers 403.
    let viewer = new_client();
    app.login_with(&viewer, "viewer@clinic.test", &viewer_pw)
        .await;
    let html = page(&app, &viewer, PAGE).await;
    assert!(html.contains("Zenith") && html.contains("Stored claims"));
    assert!(!html.contains("Re-map stored claims now") && !html.contains("alias_delete"));
    for fields in writes {
        let res = post(&app, &viewer, fields).await;
        assert_eq!(res.status(), 403, "{fields:?}");
    }
    for edit in [
        format!("{PAGE}?edit_alias={aid}"),
        format!("{PAGE}?edit_group={gid}"),
    ] {
        assert_eq!(app.get_with(&viewer, &edit).await.status(), 403, "{edit}");
    }

    // Another tenant's analyst: the ids look absent (404), nothing changes.
    let other = new_client();
    app.login_with(&other, "analyst@other.test", &other_pw)
        .await;
    for fields in &writes[..4] {
        let res = post(&app, &other, fields).await;
        assert_eq!(res.status(), 404, "{fields:?}");
    }
    for edit in [
        format!("{PAGE}?edit_alias={aid}"),
        format!("{PAGE}?edit_group={gid}"),
    ] {
        assert_eq!(app.get_with(&other, &edit).await.status(), 404, "{edit}");
    }
    // Their re-map touches their own (no) claims only.
    let res = post(&app, &other, &[("action", "remap")]).await;
    assert_eq!(res.status(), 303);

    // The analyst without the CSRF token: refused, nothing done.
    for fields in writes {
        let res = analyst
            .post(app.url(PAGE))
            .form(fields)
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 403, "{fields:?}");
    }
    // Ids must be numbers.
    let res = post(
        &app,
        &analyst,
        &[("action", "alias_delete"), ("alias_id", "x")],
    )
    .await;
    assert_eq!(res.status(), 400);
    assert_eq!(
        app.get_with(&analyst, &format!("{PAGE}?edit_group=x"))
            .await
            .status(),
        400
    );

    assert_eq!(aliases(&app, &scope), vec![alias]);
    assert_eq!(groups(&app, &scope)[0], group);
    assert!(
        stored_payers(&app, &scope).contains(&("Zenith".into(), "Zenith".into(), 1)),
        "not re-mapped"
    );
    let actions: Vec<String> = mapping_audit(&app).into_iter().map(|r| r.0).collect();
    assert_eq!(
        actions,
        ["mapping.payer_alias", "mapping.remap"],
        "the other tenant's re-map only"
    );
}

/// The re-map commits in bounded steps (issue 19 follow-up: one tenant's re-map must not
/// hold the database's writer — on SQLite every tenant's — for its whole length): each
/// step one transaction moving claims and their rollups together, the rollups agreeing
/// with the claims after it; a step of a job another worker took over does not commit; a
/// re-run after a crash moves nothing twice.
#[actix_web::test]
async fn the_remap_commits_in_bounded_steps_is_fenced_and_runs_again_harmlessly() {
    use payerwatch::services::{mappings as service, rollups};
    let app = app_without_workers().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    let mut rows = vec![("Zenith", "71045", "PAID"); 5];
    rows.extend([("Acme", "99213", "DENIED"); 3]);
    upload(&app, scope, &rows);
    {
        let mut conn = app.db.get().expect("conn");
        mappings::upsert_payer_alias(&mut conn, &scope, "zenith", "Acme").expect("alias");
        mappings::upsert_cpt_group(&mut conn, &scope, "71045", "71045", "CHEST_XRAY")
            .expect("group");
    }
    let verify = |app: &TestApp| {
        let db = app.db.clone();
        async move {
            actix_web::rt::task::spawn_blocking(move || rollups::verify(&db, &scope))
                .await
                .expect("task")
                .expect("verify")
        }
    };

    // Steps of one claim: every claim its own transaction, rollups right after each run.
    let db = app.db.clone();
    let out = actix_web::rt::task::spawn_blocking(move || service::remap_in_steps(&db, &scope, 1))
        .await
        .expect("task")
        .expect("remap");
    assert_eq!((out.payer_rows, out.cpt_group_rows), (5, 5));
    assert!(
        out.steps > out.rows(),
        "one transaction per claim moved (and one finding each entry done): {out:?}"
    );
    assert!(verify(&app).await.is_empty(), "rollups follow the claims");
    assert!(
        out.analytics_job.is_some(),
        "an analytics run requested at the end"
    );
    // Again: already re-mapped claims are not moved again.
    let db = app.db.clone();
    let again = actix_web::rt::task::spawn_blocking(move || service::remap(&db, &scope))
        .await
        .expect("task")
        .expect("remap");
    assert_eq!(again.rows(), 0);

    // A job: undo the alias so there is work, queue it from the page, and let a worker
    // whose lease was taken over try to run it: nothing commits.
    {
        let mut conn = app.db.get().expect("conn");
        let alias = mappings::list_payer_aliases(&mut conn, &scope).expect("aliases");
        mappings::update_payer_alias(&mut conn, &scope, alias[0].id, "zenith", "Zenith Health")
            .expect("alias");
    }
    let analyst = new_client();
    app.login_with(&analyst, "analyst@clinic.test", &pw).await;
    let res = post(&app, &analyst, &[("action", "remap")]).await;
    assert_eq!(res.status(), 303);
    let job = {
        let mut conn = app.db.get().expect("conn");
        let queued = jobs::latest_of_kind(&mut conn, &scope, jobs::REMAP)
            .expect("jobs")
            .expect("queued");
        jobs::claim_one(
            &mut conn,
            queued.id,
            "vm:1:new-owner",
            payerwatch::db::repo::now(),
            chrono::Duration::seconds(60),
        )
        .expect("claim")
        .expect("claimed")
    };
    let (db, stale) = (app.db.clone(), job.clone());
    let taken = actix_web::rt::task::spawn_blocking(move || {
        service::run_remap(&db, &stale, "vm:0:old-owner")
    })
    .await
    .expect("task");
    assert!(
        matches!(taken, Err(service::RemapError::TakenOver)),
        "{taken:?}"
    );
    assert!(
        stored_payers(&app, &scope).contains(&("Zenith".into(), "Acme".into(), 5)),
        "the taken-over step rolled back"
    );
    // The owner runs it; then, as after a crash that lost nothing but the process, the
    // same job runs again from the start of its plan: no claim moves twice.
    let (db, owned) = (app.db.clone(), job.clone());
    let out = actix_web::rt::task::spawn_blocking(move || {
        service::run_remap(&db, &owned, "vm:1:new-owner")
    })
    .await
    .expect("task")
    .expect("run");
    assert_eq!(out.payer_rows, 5);
    assert!(stored_payers(&app, &scope).contains(&("Zenith".into(), "Zenith Health".into(), 5)));
    {
        let mut conn = app.db.get().expect("conn");
        let row = jobs::find(&mut conn, &scope, job.id).expect("job");
        assert_eq!(row.state, jobs::SUCCEEDED);
        // Recovery queues it again (its process died before it was seen to end).
        diesel::update(
            payerwatch::db::schema::jobs::table.filter(payerwatch::db::schema::jobs::id.eq(job.id)),
        )
        .set((
            payerwatch::db::schema::jobs::state.eq(jobs::QUEUED),
            payerwatch::db::schema::jobs::payload.eq(&job.payload),
        ))
        .execute(&mut conn)
        .expect("requeue");
    }
    let job = {
        let mut conn = app.db.get().expect("conn");
        jobs::claim_one(
            &mut conn,
            job.id,
            "vm:2:restarted",
            payerwatch::db::repo::now(),
            chrono::Duration::seconds(60),
        )
        .expect("claim")
        .expect("claimed")
    };
    let db = app.db.clone();
    let rerun = actix_web::rt::task::spawn_blocking(move || {
        service::run_remap(&db, &job, "vm:2:restarted")
    })
    .await
    .expect("task")
    .expect("rerun");
    assert_eq!(rerun.rows(), 0, "nothing moved twice: {rerun:?}");
    assert!(verify(&app).await.is_empty());
}

/// A refused edit re-shows the page (issue 19 item 6, as the rules page does): the
/// message beside its field (`p.field-error`, `aria-invalid`, `aria-describedby`), the
/// user's values kept, the edit form still open; 400 for a bad field, 409 for another
/// entry's name or bounds. Nothing is saved.
#[actix_web::test]
async fn refused_mapping_changes_show_the_message_beside_the_field_with_the_values_kept() {
    let app = app_without_workers().await;
    let pw = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    let scope = app.scope_of("clinic");
    upload(
        &app,
        scope,
        &[("Acme", "99213", "PAID"), ("Zenith", "99213", "PAID")],
    );
    let analyst = new_client();
    app.login_with(&analyst, "analyst@clinic.test", &pw).await;
    for (alias, canonical) in [("ACME HP", "Acme"), ("Zen", "Zenith")] {
        let res = post(
            &app,
            &analyst,
            &[
                ("action", "alias"),
                ("alias", alias),
                ("canonical", canonical),
            ],
        )
        .await;
        assert_eq!(res.status(), 303);
    }
    let before = aliases(&app, &scope);
    let acme = before.iter().find(|a| a.alias == "ACME HP").expect("alias");
    let id = acme.id.to_string();
    let beside = |body: &str, input: &str, name: &str| {
        body.contains(&format!("id=\"{input}\" name=\"{name}\""))
            && body.contains(&format!(
                "aria-invalid=\"true\" aria-describedby=\"{input}-error\""
            ))
            && body.contains(&format!("<p class=\"field-error\" id=\"{input}-error\">"))
    };

    // Another alias's name: 409 beside "Name in files", the edit form open with the values.
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "alias_update"),
            ("alias_id", &id),
            ("alias", "zen"),
            ("canonical", "Acme Health"),
        ],
    )
    .await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.expect("body");
    assert!(beside(&body, "m-alias", "alias"), "{body}");
    assert!(body.contains("Another alias already has that name in files"));
    assert!(
        body.contains("Edit alias") && body.contains(&format!("name=\"alias_id\" value=\"{id}\""))
    );
    assert!(body.contains("value=\"zen\"") && body.contains("value=\"Acme Health\""));
    assert!(body.contains("Sign out"), "the page, in the portal");

    // A missing field on the add form: 400 beside it, the other value kept.
    let res = post(
        &app,
        &analyst,
        &[("action", "alias"), ("alias", "Blue"), ("canonical", " ")],
    )
    .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.expect("body");
    assert!(beside(&body, "m-canonical", "canonical"), "{body}");
    assert!(
        body.contains("canonical") && body.contains("is required."),
        "{body}"
    );
    assert!(body.contains("Add an alias") && body.contains("value=\"Blue\""));
    assert!(!beside(&body, "m-alias", "alias"), "only the refused field");

    // CPT bounds out of order: 400 beside the last code; another range's bounds: 409.
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "cpt_group"),
            ("code_start", "79999"),
            ("code_end", "70000"),
            ("group_name", "scans"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.expect("body");
    assert!(beside(&body, "m-end", "code_end"), "{body}");
    assert!(body.contains("value=\"79999\"") && body.contains("value=\"scans\""));
    let ranges = groups(&app, &scope);
    let (imaging, lab) = (
        ranges
            .iter()
            .find(|g| g.group_name == "IMAGING")
            .expect("imaging"),
        ranges.iter().find(|g| g.group_name == "LAB").expect("lab"),
    );
    let gid = imaging.id.to_string();
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "cpt_group_update"),
            ("group_id", &gid),
            ("code_start", &lab.code_start),
            ("code_end", &lab.code_end),
            ("group_name", "RADIOLOGY"),
        ],
    )
    .await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.expect("body");
    assert!(beside(&body, "m-start", "code_start"), "{body}");
    assert!(body.contains("Edit CPT range") && body.contains("value=\"RADIOLOGY\""));

    // A payer merged into itself: 400 beside "into", both choices kept.
    let res = post(
        &app,
        &analyst,
        &[
            ("action", "merge"),
            ("alias", "Acme"),
            ("canonical", "Acme"),
        ],
    )
    .await;
    assert_eq!(res.status(), 400);
    let body = res.text().await.expect("body");
    assert!(
        body.contains("aria-invalid=\"true\" aria-describedby=\"m-merge-into-error\"")
            && body.contains("<p class=\"field-error\" id=\"m-merge-into-error\">"),
        "{body}"
    );
    assert!(body.contains("<option value=\"Acme\" selected>"), "{body}");

    assert_eq!(aliases(&app, &scope), before, "nothing saved");
    assert_eq!(groups(&app, &scope), ranges, "nothing saved");
}
