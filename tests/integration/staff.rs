//! Staff accounts are managed only from the CLI (SPEC §1; review 2026-12 row 12): a tenant
//! owner cannot reset, re-role or deactivate one, even when it sits in the owner's customer.

use diesel::prelude::*;
use payerwatch::db::schema::{password_tokens, users};
use payerwatch::domain::roles::Role;

use crate::common::spawn_app;

#[actix_web::test]
async fn a_tenant_owner_cannot_manage_a_staff_account() {
    let app = spawn_app().await;
    let password = app.create_user("Clinic", "owner@clinic.test", Role::Owner, false);
    app.create_user("Clinic", "ops@platform.test", Role::Viewer, true);
    app.login("owner@clinic.test", &password).await;
    let staff_id: i64 = {
        let mut conn = app.db.get().expect("conn");
        users::table
            .filter(users::email.eq("ops@platform.test"))
            .select(users::id)
            .first(&mut conn)
            .expect("staff")
    };
    let id = staff_id.to_string();
    for fields in [
        vec![("action", "reset"), ("user_id", id.as_str())],
        vec![
            ("action", "role"),
            ("user_id", id.as_str()),
            ("role", "owner"),
        ],
        vec![("action", "deactivate"), ("user_id", id.as_str())],
    ] {
        let res = app
            .post_form("/portal/settings/users", "/portal/settings/users", &fields)
            .await;
        assert_eq!(res.status(), 404, "{fields:?}");
    }
    let mut conn = app.db.get().expect("conn");
    let links: i64 = password_tokens::table
        .filter(password_tokens::user_id.eq(staff_id))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(links, 0, "no reset link was issued for the staff account");
    let (role, active): (String, bool) = users::table
        .filter(users::id.eq(staff_id))
        .select((users::role, users::is_active))
        .first(&mut conn)
        .expect("staff");
    assert_eq!((role.as_str(), active), ("viewer", true));
}
