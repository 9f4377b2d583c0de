//! The ground every feature stands on: probes, headers, error pages, schema on both
//! backends, PROTECT semantics and tenant isolation in the repository layer.

use actix_web::{HttpResponse, web};
use chrono::NaiveDate;
use diesel::prelude::*;
use payerwatch::db::repo::claims::NewClaim;
use payerwatch::db::repo::{audit, claim_writer, claims, customers, uploads, users};
use payerwatch::db::schema;
use payerwatch::db::{Backend, Db, DbError, migrations};
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::{CustomerId, TenantScope};
use payerwatch::web::AppError;

use crate::common::{SpawnOptions, TestDatabase, extra_routes, spawn_app, spawn_app_with};

const SECURITY_HEADERS: [(&str, &str); 4] = [
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "same-origin"),
    ("content-security-policy", "default-src 'self'"),
];

fn assert_security_headers(res: &reqwest::Response) {
    for (name, expected) in SECURITY_HEADERS {
        let value = res
            .headers()
            .get(name)
            .unwrap_or_else(|| panic!("{name} missing on {}", res.url()))
            .to_str()
            .expect("ascii");
        assert!(value.contains(expected), "{name}: {value}");
    }
    let csp = res.headers()["content-security-policy"]
        .to_str()
        .expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert!(res.headers().contains_key("x-request-id"));
    let ms = res.headers()["x-request-duration-ms"]
        .to_str()
        .expect("ascii");
    ms.parse::<u64>()
        .expect("duration is a number of milliseconds");
}

#[actix_web::test]
async fn liveness_probes_answer_ok_without_session_or_database() {
    let app = spawn_app().await;
    for path in ["/healthz", "/health", "/ping", "/healthz/", "/ping/"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), 200, "{path}");
        assert!(
            res.headers().get("set-cookie").is_none(),
            "{path} sets no cookie"
        );
        assert_security_headers(&res);
        assert_eq!(res.text().await.expect("body"), "ok", "{path}");
    }
}

#[actix_web::test]
async fn readiness_is_ok_with_a_database() {
    let app = spawn_app().await;
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "ready");
}

#[actix_web::test]
async fn readiness_fails_when_the_database_is_gone() {
    let database = TestDatabase::create();
    let unreachable = match database.backend() {
        // A SQLite file in a directory that does not exist can never be opened.
        Backend::Sqlite => Some(TestDatabase::Sqlite {
            _dir: tempfile::tempdir().expect("tmp"),
            url: "sqlite:///nonexistent-dir/for/payerwatch.db".to_string(),
        }),
        Backend::Postgres => None,
    };
    let postgres = unreachable.is_none();
    let app = spawn_app_with(SpawnOptions {
        migrate: Some(postgres),
        database: Some(unreachable.unwrap_or(database)),
        ..SpawnOptions::default()
    })
    .await;
    if postgres {
        assert_eq!(app.get("/readyz").await.status(), 200);
        app.database.as_ref().expect("owned database").drop_now();
    }
    let res = app.get("/readyz").await;
    assert_eq!(res.status(), 503);
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[actix_web::test]
async fn request_ids_are_kept_when_well_formed_and_generated_otherwise() {
    let app = spawn_app().await;
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .expect("sent");
    assert_eq!(kept.headers()["x-request-id"], "trace-abc-123");

    let replaced = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "<script>")
        .send()
        .await
        .expect("sent");
    let id = replaced.headers()["x-request-id"].to_str().expect("ascii");
    assert_ne!(id, "<script>");
    assert!(uuid::Uuid::parse_str(id).is_ok(), "{id}");
}

#[actix_web::test]
async fn unknown_paths_get_a_404_page_with_all_headers() {
    let app = spawn_app().await;
    let res = app.get("/no/such/page").await;
    assert_eq!(res.status(), 404);
    assert_security_headers(&res);
    assert_eq!(res.headers()["cache-control"], "no-store");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
    let body = res.text().await.expect("body");
    assert!(body.contains("Page not found"));
    assert!(
        body.contains("/static/css/app.css"),
        "the page uses the layout"
    );
}

#[actix_web::test]
async fn unknown_api_paths_get_problem_json() {
    let app = spawn_app().await;
    let res = app.get("/api/v1/nothing-here").await;
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["status"], 404);
    assert!(body["request_id"].as_str().is_some_and(|s| !s.is_empty()));
}

#[actix_web::test]
async fn a_panicking_handler_yields_a_500_page_with_the_request_id_and_no_internals() {
    let app = spawn_app_with(SpawnOptions {
        extra_routes: extra_routes(|cfg| {
            cfg.route(
                "/__test/panic",
                web::get().to(|| async {
                    if true {
                        panic!("secret internal detail zqxv-internal");
                    }
                    HttpResponse::Ok().finish()
                }),
            );
        }),
        ..SpawnOptions::default()
    })
    .await;
    let res = app.get("/__test/panic").await;
    assert_eq!(res.status(), 500);
    assert_security_headers(&res);
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    let body = res.text().await.expect("body");
    assert!(body.contains(&id), "the page shows the request id");
    assert!(!body.contains("zqxv"), "no internals in the page");
    // The server keeps serving after the panic.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

#[actix_web::test]
async fn an_internal_error_shows_a_generic_page() {
    let app = spawn_app_with(SpawnOptions {
        extra_routes: extra_routes(|cfg| {
            cfg.route(
                "/__test/fail",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(AppError::Internal(anyhow::anyhow!(
                        "connection string postgres://secret@db"
                    )))
                }),
            );
        }),
        ..SpawnOptions::default()
    })
    .await;
    let res = app.get("/__test/fail").await;
    assert_eq!(res.status(), 500);
    let body = res.text().await.expect("body");
    assert!(body.contains("Something went wrong on our side"));
    assert!(!body.contains("secret"), "no internals in the page");
}

#[actix_web::test]
async fn malformed_path_ids_answer_404_not_500() {
    let app = spawn_app_with(SpawnOptions {
        extra_routes: extra_routes(|cfg| {
            cfg.route(
                "/__test/items/{id}",
                web::get().to(|id: web::Path<i64>| async move {
                    HttpResponse::Ok().body(id.into_inner().to_string())
                }),
            );
        }),
        ..SpawnOptions::default()
    })
    .await;
    assert_eq!(app.get("/__test/items/12").await.status(), 200);
    for bad in ["abc", "1.5", "99999999999999999999999", "%00"] {
        let res = app.get(&format!("/__test/items/{bad}")).await;
        assert_eq!(res.status(), 404, "{bad}");
    }
}

#[actix_web::test]
async fn static_assets_are_served_and_cacheable() {
    let app = spawn_app().await;
    let res = app.get("/static/css/app.css").await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ascii")
            .starts_with("text/css")
    );
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .expect("ascii")
            .contains("max-age")
    );
    assert_security_headers(&res);
    assert_eq!(app.get("/static/../Cargo.toml").await.status(), 404);
    assert_eq!(app.get("/static/nope.css").await.status(), 404);
}

#[actix_web::test]
async fn root_redirects_into_the_portal() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/portal");
}

// ---------------------------------------------------------------- database layer

fn tenant(db: &Db, slug: &str) -> TenantScope {
    let mut conn = db.get().expect("connection");
    let id = customers::insert(&mut conn, slug, slug).expect("customer");
    TenantScope::for_system(CustomerId(id))
}

fn claim(scope: &TenantScope, upload_id: i64, payer: &str) -> NewClaim {
    let submitted = NaiveDate::from_ymd_opt(2026, 10, 1).expect("date");
    let decided = NaiveDate::from_ymd_opt(2026, 10, 20).expect("date");
    NewClaim {
        customer_id: scope.id(),
        upload_id,
        payer_raw: payer.to_string(),
        payer: payer.to_string(),
        cpt: "99213".to_string(),
        cpt_group: "EVAL_MGMT".to_string(),
        submitted_date: submitted,
        decided_date: decided,
        decision_days: 19,
        outcome: "DENIED".to_string(),
        allowed_cents: Some(12_345),
        denial_reason_code: Some("CO-197".to_string()),
        denial_reason_text: None,
    }
}

#[actix_web::test]
async fn deleting_an_upload_with_claims_is_refused_and_changes_nothing() {
    let app = spawn_app().await;
    let db = app.db.clone();
    let scope = tenant(&db, "acme");
    let mut conn = db.get().expect("connection");
    let upload = uploads::insert_processing(&mut conn, &scope, "claims.csv", None).expect("upload");
    claim_writer::insert_many(
        &mut conn,
        &scope,
        &[
            claim(&scope, upload, "Aetna"),
            claim(&scope, upload, "Cigna"),
        ],
    )
    .expect("claims");

    let err = uploads::delete(&mut conn, &scope, upload).expect_err("refused");
    assert!(
        matches!(err, DbError::UploadHasClaims { upload_id } if upload_id == upload),
        "{err:?}"
    );
    // The database itself refuses too (no application check in the way).
    let err =
        uploads::delete_relying_on_foreign_key(&mut conn, &scope, upload).expect_err("refused");
    assert!(matches!(err, DbError::UploadHasClaims { .. }), "{err:?}");

    assert!(
        uploads::find(&mut conn, &scope, upload).is_ok(),
        "upload stays"
    );
    assert_eq!(
        claims::count_for_upload(&mut conn, &scope, upload).expect("count"),
        2
    );

    // An upload without claims can be deleted.
    let empty = uploads::insert_processing(&mut conn, &scope, "empty.csv", None).expect("upload");
    uploads::delete(&mut conn, &scope, empty).expect("deleted");
    assert!(matches!(
        uploads::find(&mut conn, &scope, empty),
        Err(DbError::NotFound)
    ));

    // The error becomes a 409 with a clear message in the web layer.
    let web_error = AppError::from(DbError::UploadHasClaims { upload_id: upload });
    assert_eq!(actix_web::ResponseError::status_code(&web_error), 409);
}

/// The database itself refuses a claim whose upload does not exist and, on PostgreSQL
/// (where one statement-level check replaced the per-row foreign keys), a claim naming
/// another tenant's upload or moving to another upload; nothing is written.
#[actix_web::test]
async fn claims_must_reference_an_existing_upload_of_their_own_tenant() {
    let app = spawn_app().await;
    let db = app.db.clone();
    let acme = tenant(&db, "acme");
    let other = tenant(&db, "other");
    let mut conn = db.get().expect("connection");
    let theirs = uploads::insert_processing(&mut conn, &other, "theirs.csv", None).expect("upload");
    let ours = uploads::insert_processing(&mut conn, &acme, "ours.csv", None).expect("upload");

    let err = claim_writer::insert_many(
        &mut conn,
        &acme,
        &[
            claim(&acme, ours, "Aetna"),
            claim(&acme, theirs + 100, "Cigna"),
        ],
    )
    .expect_err("no such upload");
    assert!(matches!(err, DbError::ForeignKey), "{err:?}");
    assert_eq!(claims::count(&mut conn, &acme).expect("count"), 0);

    // Both databases refuse a claim naming another tenant's upload (PostgreSQL by
    // trigger, SQLite by a composite foreign key) and a claim changing upload.
    let err = claim_writer::insert_many(&mut conn, &acme, &[claim(&acme, theirs, "Aetna")])
        .expect_err("another tenant's upload");
    assert!(matches!(err, DbError::ForeignKey), "{err:?}");
    assert_eq!(claims::count(&mut conn, &acme).expect("count"), 0);

    claim_writer::insert_many(&mut conn, &acme, &[claim(&acme, ours, "Aetna")]).expect("claim");
    let second = uploads::insert_processing(&mut conn, &acme, "second.csv", None).expect("upload");
    for (upload, why) in [
        (theirs, "another tenant's"),
        (second, "another of the tenant's"),
    ] {
        let moved = diesel::update(schema::claim_records::table)
            .set(schema::claim_records::upload_id.eq(upload))
            .execute(&mut conn);
        assert!(moved.is_err(), "a claim cannot move to {why} upload");
    }
    let moved = diesel::update(schema::claim_records::table)
        .set(schema::claim_records::customer_id.eq(other.id()))
        .execute(&mut conn);
    assert!(moved.is_err(), "a claim cannot change tenant");
    // Renaming the payer (what remap does) stays possible.
    diesel::update(schema::claim_records::table)
        .set(schema::claim_records::payer.eq("Aetna Inc"))
        .execute(&mut conn)
        .expect("payer updated");
    assert_eq!(
        claims::count_for_upload(&mut conn, &acme, ours).expect("count"),
        1
    );
    assert_eq!(claims::count(&mut conn, &other).expect("count"), 0);
}

#[actix_web::test]
async fn repository_calls_never_cross_tenants() {
    let app = spawn_app().await;
    let db = app.db.clone();
    let a = tenant(&db, "tenant-a");
    let b = tenant(&db, "tenant-b");
    let mut conn = db.get().expect("connection");
    let upload = uploads::insert_processing(&mut conn, &a, "a.csv", None).expect("upload");
    claim_writer::insert_many(&mut conn, &a, &[claim(&a, upload, "Aetna")]).expect("claims");
    let user = users::insert(
        &mut conn,
        &a,
        &users::CreateUser {
            email: "Lead@A.example",
            password_hash: "x",
            role: Role::Owner,
            is_staff: false,
        },
    )
    .expect("user");

    assert!(matches!(
        uploads::find(&mut conn, &b, upload),
        Err(DbError::NotFound)
    ));
    assert_eq!(uploads::list(&mut conn, &b, 1, 50).expect("list").total, 0);
    assert_eq!(uploads::list(&mut conn, &a, 1, 50).expect("list").total, 1);
    assert!(matches!(
        uploads::delete(&mut conn, &b, upload),
        Err(DbError::NotFound)
    ));
    assert_eq!(claims::count(&mut conn, &b).expect("count"), 0);
    assert_eq!(
        claims::count_for_upload(&mut conn, &b, upload).expect("count"),
        0
    );
    assert!(
        claims::list_recent(&mut conn, &b, 10)
            .expect("list")
            .is_empty()
    );
    assert!(matches!(
        users::find(&mut conn, &b, user),
        Err(DbError::NotFound)
    ));
    assert!(users::list(&mut conn, &b).expect("list").is_empty());
    // Claims claiming to belong to another tenant are refused.
    assert!(claim_writer::insert_many(&mut conn, &b, &[claim(&a, upload, "Aetna")]).is_err());
    // E-mail is unique case-insensitively.
    assert_eq!(
        users::find_by_email(&mut conn, "lead@a.EXAMPLE")
            .expect("found")
            .id,
        user
    );
    assert!(matches!(
        users::insert(
            &mut conn,
            &b,
            &users::CreateUser {
                email: "LEAD@a.example",
                password_hash: "x",
                role: Role::Viewer,
                is_staff: false
            }
        ),
        Err(DbError::Duplicate(_))
    ));
    audit::insert(
        &mut conn,
        &audit::NewAuditEvent {
            occurred_at: payerwatch::db::repo::now(),
            customer_id: Some(a.id()),
            actor_user_id: Some(user),
            action: "test.action".into(),
            target_type: None,
            target_id: None,
            changed_fields: None,
            client_addr: Some("10.1.0.0".into()),
            request_id: None,
        },
    )
    .expect("audit");
    assert_eq!(
        audit::list_recent(&mut conn, &a, 10).expect("list").len(),
        1
    );
    assert!(
        audit::list_recent(&mut conn, &b, 10)
            .expect("list")
            .is_empty()
    );
}

/// Every table of `schema.rs` is readable with every column on this backend.
fn assert_schema_matches(conn: &mut payerwatch::db::DbConnection) {
    macro_rules! check {
        ($table:ident, $model:ty) => {
            schema::$table::table
                .select(<$model>::as_select())
                .limit(1)
                .load::<$model>(conn)
                .unwrap_or_else(|e| panic!("{}: {e}", stringify!($table)));
        };
    }
    check!(customers, payerwatch::db::repo::customers::Customer);
    check!(users, payerwatch::db::repo::users::User);
    check!(uploads, payerwatch::db::repo::uploads::Upload);
    check!(claim_records, claims::ClaimRecord);
    check!(audit_events, audit::AuditEvent);
    use schema::*;
    sessions::table
        .select((
            sessions::key_hash,
            sessions::user_id,
            sessions::state,
            sessions::created_at,
            sessions::refreshed_at,
            sessions::expires_at,
        ))
        .limit(1)
        .load::<(
            String,
            Option<i64>,
            String,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
            chrono::NaiveDateTime,
        )>(conn)
        .expect("sessions");
    upload_reports::table
        .select((upload_reports::upload_id, upload_reports::report_json))
        .limit(1)
        .load::<(i64, String)>(conn)
        .expect("upload_reports");
    upload_rejections::table
        .select((
            upload_rejections::id,
            upload_rejections::upload_id,
            upload_rejections::row_number,
            upload_rejections::column_name,
            upload_rejections::reason,
        ))
        .limit(1)
        .load::<(i64, i64, i64, String, String)>(conn)
        .expect("upload_rejections");
    payer_aliases::table
        .select((
            payer_aliases::id,
            payer_aliases::customer_id,
            payer_aliases::alias_key,
            payer_aliases::alias,
            payer_aliases::canonical,
            payer_aliases::created_at,
        ))
        .limit(1)
        .load::<(i64, i64, String, String, String, chrono::NaiveDateTime)>(conn)
        .expect("payer_aliases");
    cpt_groups::table
        .select((
            cpt_groups::id,
            cpt_groups::customer_id,
            cpt_groups::code_start,
            cpt_groups::code_end,
            cpt_groups::group_name,
            cpt_groups::created_at,
        ))
        .limit(1)
        .load::<(i64, i64, String, String, String, chrono::NaiveDateTime)>(conn)
        .expect("cpt_groups");
}

#[derive(QueryableByName, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ColumnRow {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
}

fn columns(conn: &mut payerwatch::db::DbConnection, backend: Backend) -> Vec<ColumnRow> {
    let sql = match backend {
        // Claims' partitions and their `segment` (which partition a claim is in) are
        // PostgreSQL's storage, not schema (migration 2026-12-07-000300).
        Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name \
             FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name <> '__diesel_schema_migrations' \
             AND table_name NOT IN (SELECT relname FROM pg_class WHERE relispartition) \
             AND NOT (table_name = 'claim_records' AND column_name = 'segment')"
        }
        Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
             AND m.name NOT LIKE 'sqlite_%' AND m.name <> '__diesel_schema_migrations'"
        }
    };
    let mut rows: Vec<ColumnRow> = diesel::sql_query(sql).load(conn).expect("columns");
    rows.sort();
    rows
}

#[actix_web::test]
async fn migrations_give_the_schema_and_round_trip() {
    let app = spawn_app().await;
    let mut conn = app.db.get().expect("connection");
    assert_schema_matches(&mut conn);
    let before = columns(&mut conn, app.db.backend());
    assert!(before.len() > 60, "{} columns", before.len());
    migrations::revert_all(&mut conn).expect("revert");
    assert!(columns(&mut conn, app.db.backend()).is_empty());
    migrations::run_pending(&mut conn).expect("re-apply");
    assert_eq!(columns(&mut conn, app.db.backend()), before);
}

/// Both migration directories produce the same tables and columns. Needs both backends,
/// so it runs when PostgreSQL is configured (CI always configures it).
#[actix_web::test]
async fn both_backends_have_the_same_tables_and_columns() {
    let Ok(pg) = std::env::var("PAYERWATCH_TEST_POSTGRES") else {
        eprintln!("PAYERWATCH_TEST_POSTGRES not set: comparing needs both backends");
        return;
    };
    let sqlite_db = TestDatabase::create_sqlite();
    let pg_db = TestDatabase::create_postgres(&pg);
    let mut found = Vec::new();
    for database in [&sqlite_db, &pg_db] {
        let db = Db::connect(database.url(), 1).expect("connect");
        db.migrate().expect("migrate");
        let mut conn = db.get().expect("connection");
        found.push(columns(&mut conn, database.backend()));
    }
    assert_eq!(found[0], found[1]);
}

/// On PostgreSQL, request handlers' database work is admitted a few at a time (fewer busy
/// backends keep latency flat under load); SQLite, whose writers queue behind an import,
/// is not limited.
#[actix_web::test]
async fn request_database_work_is_admitted_up_to_the_limit() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let database = TestDatabase::create();
    Db::connect(database.url(), 4)
        .expect("connect")
        .migrate()
        .expect("migrate");
    let most_at_once = |limit: u32| {
        let db = Db::connect(database.url(), 4)
            .expect("connect")
            .limit_request_concurrency(limit);
        let active = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let calls = (0..4).map(move |_| {
            let (db, active, most) = (db.clone(), Arc::clone(&active), Arc::clone(&most));
            async move {
                db.run(move |conn| {
                    let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    customers::list_all(conn)?;
                    std::thread::sleep(std::time::Duration::from_millis(60));
                    active.fetch_sub(1, Ordering::SeqCst);
                    Ok(Arc::clone(&most))
                })
                .await
                .expect("query")
            }
        });
        futures_util::future::join_all(calls)
    };
    let most = most_at_once(1).await;
    match database.backend() {
        Backend::Postgres => assert_eq!(most[0].load(Ordering::SeqCst), 1),
        Backend::Sqlite => assert!(most[0].load(Ordering::SeqCst) >= 2),
    }
    // The same work with room for all of it overlaps: the limit is what serialised it.
    let most = most_at_once(4).await;
    assert!(most[0].load(Ordering::SeqCst) >= 2);
}
