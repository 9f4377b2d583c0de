//! A change and its audit row commit together: when the audit row cannot be written, the
//! change is rolled back (through `Db::write_audited` and through a real page).

use diesel::RunQueryDsl;
use payerwatch::db::repo::{audit, customers, mappings};
use payerwatch::db::{AuditContext, AuditEntry, DbError};
use payerwatch::domain::roles::Role;
use payerwatch::domain::tenant::{CustomerId, TenantScope};

use crate::common::{TestApp, spawn_app};

fn scope_of(app: &TestApp, slug: &str) -> TenantScope {
    let mut conn = app.db.get().expect("conn");
    let customer = customers::find_by_slug(&mut conn, slug).expect("customer");
    TenantScope::from_authenticated(CustomerId(customer.id))
}

/// Makes every audit insert fail (the table is renamed away) until `restore`.
fn break_audit_table(app: &TestApp) {
    let mut conn = app.db.get().expect("conn");
    diesel::sql_query("ALTER TABLE audit_events RENAME TO audit_events_away")
        .execute(&mut conn)
        .expect("renamed");
}

fn restore_audit_table(app: &TestApp) {
    let mut conn = app.db.get().expect("conn");
    diesel::sql_query("ALTER TABLE audit_events_away RENAME TO audit_events")
        .execute(&mut conn)
        .expect("restored");
}

fn aliases(app: &TestApp, scope: &TenantScope) -> usize {
    let mut conn = app.db.get().expect("conn");
    mappings::list_payer_aliases(&mut conn, scope)
        .expect("aliases")
        .len()
}

fn audit_rows(app: &TestApp, scope: &TenantScope) -> usize {
    let mut conn = app.db.get().expect("conn");
    audit::list_recent(&mut conn, scope, 1000)
        .expect("audit rows")
        .len()
}

#[actix_web::test]
async fn a_failing_audit_insert_rolls_the_change_back() {
    let app = spawn_app().await;
    app.create_user("acme", "admin@acme.test", Role::Admin, false);
    let scope = scope_of(&app, "acme");
    let before = aliases(&app, &scope);
    let entry = AuditEntry {
        customer_id: Some(scope.id()),
        action: "mapping.payer_alias",
        ..AuditEntry::default()
    };

    break_audit_table(&app);
    let failed = app
        .db
        .write_audited(AuditContext::default(), entry.clone(), move |conn| {
            mappings::upsert_payer_alias(conn, &scope, "BCBS TX", "Blue Cross")
        })
        .await;
    restore_audit_table(&app);
    assert!(
        failed.is_err(),
        "the audit insert failed, so the write must"
    );
    assert_eq!(aliases(&app, &scope), before, "the change was rolled back");

    // With the audit table back, the same call commits both.
    let audits = audit_rows(&app, &scope);
    app.db
        .write_audited(AuditContext::default(), entry, move |conn| {
            mappings::upsert_payer_alias(conn, &scope, "BCBS TX", "Blue Cross")
        })
        .await
        .expect("committed");
    assert_eq!(aliases(&app, &scope), before + 1);
    assert_eq!(audit_rows(&app, &scope), audits + 1);
}

#[actix_web::test]
async fn a_business_error_rolls_back_what_the_write_did_before_it() {
    #[derive(Debug)]
    enum Refused {
        Db,
        NotThisOne,
    }
    impl From<DbError> for Refused {
        fn from(_: DbError) -> Self {
            Refused::Db
        }
    }
    let app = spawn_app().await;
    app.create_user("acme", "admin@acme.test", Role::Admin, false);
    let scope = scope_of(&app, "acme");
    let before = aliases(&app, &scope);
    let outcome: Result<(), Refused> = app
        .db
        .write(move |conn| {
            mappings::upsert_payer_alias(conn, &scope, "BCBS TX", "Blue Cross")?;
            Err(Refused::NotThisOne)
        })
        .await;
    assert!(matches!(outcome, Err(Refused::NotThisOne)));
    assert_eq!(aliases(&app, &scope), before);
}

#[actix_web::test]
async fn a_page_change_whose_audit_row_fails_is_not_kept() {
    let app = spawn_app().await;
    let password = app.create_user("acme", "admin@acme.test", Role::Admin, false);
    app.login("admin@acme.test", &password).await;
    let scope = scope_of(&app, "acme");
    let before = aliases(&app, &scope);
    let page = "/portal/settings/mappings";
    let token_page = app.get(page).await.text().await.expect("page");
    let token = crate::common::csrf_token(&token_page).expect("token");

    break_audit_table(&app);
    let res = app
        .client
        .post(app.url(page))
        .form(&[
            ("action", "alias"),
            ("alias", "BCBS TX"),
            ("canonical", "Blue Cross"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .expect("sent");
    restore_audit_table(&app);
    assert_eq!(res.status().as_u16(), 500);
    assert_eq!(
        aliases(&app, &scope),
        before,
        "no alias without its audit row"
    );

    let res = app
        .post_form(
            page,
            page,
            &[
                ("action", "alias"),
                ("alias", "BCBS TX"),
                ("canonical", "Blue Cross"),
            ],
        )
        .await;
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(aliases(&app, &scope), before + 1);
}
