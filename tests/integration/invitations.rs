//! Invitations (issue 16 row 11): the inviter's answer depends only on their own tenant,
//! the account is created when the link is used, links are single use and expire, and
//! another tenant neither sees nor touches them. Both databases.

use diesel::prelude::*;
use payerwatch::db::schema::{audit_events, invitations, users};
use payerwatch::domain::roles::Role;

use crate::common::{TestApp, location, new_client, spawn_app};

const PAGE: &str = "/portal/settings/users";
const CHOSEN: &str = "a sentence that is long enough";

/// The flash messages of a page, the way the user reads them.
fn flashes(page: &str) -> Vec<String> {
    page.match_indices("<div class=\"flash ")
        .map(|(at, _)| {
            let rest = &page[at..];
            let end = rest.find("</div>").expect("flash closes");
            rest[..end].to_string()
        })
        .collect()
}

/// The first `/set-password/…` link on a page (empty when there is none).
fn link_in(page: &str) -> String {
    let Some(start) = page.find("/set-password/") else {
        return String::new();
    };
    page[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '/' || *c == '-' || *c == '_')
        .collect()
}

/// Invites `email` as analyst; returns the POST's status and location, the flash of the
/// page it leads to, and the link.
async fn invite(app: &TestApp, email: &str) -> (u16, String, Vec<String>, String) {
    let res = app
        .post_form(
            PAGE,
            PAGE,
            &[("action", "create"), ("email", email), ("role", "analyst")],
        )
        .await;
    let status = res.status().as_u16();
    let to = location(&res);
    let page = app.get(PAGE).await.text().await.expect("page");
    let link = link_in(&flashes(&page).join("\n"));
    (status, to, flashes(&page), link)
}

fn user_row(app: &TestApp, email: &str) -> Option<(i64, i64, String, String)> {
    let mut conn = app.db.get().expect("conn");
    users::table
        .filter(users::email.eq(email))
        .select((
            users::id,
            users::customer_id,
            users::role,
            users::password_hash,
        ))
        .first(&mut conn)
        .optional()
        .expect("query")
}

#[actix_web::test]
async fn inviting_answers_the_same_whether_or_not_the_address_has_an_account_elsewhere() {
    let app = spawn_app().await;
    let a_pw = app.create_user("Clinic A", "owner@a.test", Role::Owner, false);
    let b_pw = app.create_user("Clinic B", "taken@b.test", Role::Owner, false);
    let b_before = user_row(&app, "taken@b.test").expect("b user");
    app.login("owner@a.test", &a_pw).await;

    let (taken_status, taken_to, taken_flash, taken_link) = invite(&app, "Taken@B.test").await;
    let (new_status, new_to, new_flash, new_link) = invite(&app, "fresh@new.test").await;
    // Same status, same redirect, same words: only the address and the token differ.
    assert_eq!((taken_status, taken_to.as_str()), (303, PAGE));
    assert_eq!((new_status, new_to.as_str()), (303, PAGE));
    let neutral = |flash: &[String], email: &str, link: &str| -> Vec<String> {
        flash
            .iter()
            .map(|f| f.replace(email, "EMAIL").replace(link, "LINK"))
            .collect()
    };
    assert_eq!(
        neutral(&taken_flash, "taken@b.test", &taken_link),
        neutral(&new_flash, "fresh@new.test", &new_link),
    );
    assert_eq!(taken_flash.len(), 1, "{taken_flash:?}");
    assert!(
        taken_flash[0].contains("Invited taken@b.test"),
        "{taken_flash:?}"
    );
    // No account is made at invite time: the other tenant's user is untouched, the new
    // address has no user row yet, and both invitations are listed as pending.
    assert_eq!(user_row(&app, "taken@b.test"), Some(b_before.clone()));
    assert_eq!(user_row(&app, "fresh@new.test"), None);
    let page = app.get(PAGE).await.text().await.expect("page");
    assert!(page.contains("Pending invitations"));
    assert!(page.contains("taken@b.test") && page.contains("fresh@new.test"));

    // The link pages look the same too (address and token aside).
    let invitee = new_client();
    let open = |link: String| {
        let invitee = invitee.clone();
        let app = &app;
        async move {
            let res = app.get_with(&invitee, &link).await;
            (res.status().as_u16(), res.text().await.expect("page"))
        }
    };
    let (s1, p1) = open(taken_link.clone()).await;
    let (s2, p2) = open(new_link.clone()).await;
    assert_eq!((s1, s2), (200, 200));
    let strip = |p: &str, email: &str, link: &str| -> String {
        let p = p.replace(email, "EMAIL").replace(link, "LINK");
        // The anonymous form's CSRF token differs per render.
        p.lines()
            .filter(|l| !l.contains("csrf_token"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        strip(&p1, "taken@b.test", &taken_link),
        strip(&p2, "fresh@new.test", &new_link)
    );

    // A new address: the link creates the account in the inviting tenant with the role.
    let res = app
        .post_form_with(
            &invitee,
            &new_link,
            &new_link,
            &[("password", CHOSEN), ("password_confirm", CHOSEN)],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/login");
    let (_, customer, role, _) = user_row(&app, "fresh@new.test").expect("created");
    let a_customer = user_row(&app, "owner@a.test").expect("owner").1;
    assert_eq!((customer, role.as_str()), (a_customer, "analyst"));
    let res = app.login_with(&invitee, "fresh@new.test", CHOSEN).await;
    assert_eq!(location(&res), "/portal");
    assert_eq!(
        app.get_with(&invitee, &new_link).await.status(),
        410,
        "single use"
    );

    // An address with an account elsewhere: only the link's holder is told, nothing
    // changes, the invitation stays pending, the other account keeps its password.
    let holder = new_client();
    let res = app
        .post_form_with(
            &holder,
            &taken_link,
            &taken_link,
            &[("password", CHOSEN), ("password_confirm", CHOSEN)],
        )
        .await;
    assert_eq!(res.status(), 409);
    let body = res.text().await.expect("body");
    assert!(body.contains("belongs to another"), "{body}");
    assert_eq!(user_row(&app, "taken@b.test"), Some(b_before));
    assert_eq!(
        location(&app.login_with(&new_client(), "taken@b.test", &b_pw).await),
        "/portal",
        "the other tenant's account still signs in with its own password"
    );
    let page = app.get(PAGE).await.text().await.expect("page");
    assert!(page.contains("taken@b.test"), "still pending");

    let mut conn = app.db.get().expect("conn");
    let actions: Vec<String> = audit_events::table
        .order(audit_events::id.asc())
        .select(audit_events::action)
        .load(&mut conn)
        .expect("audit");
    for expected in ["invitation.created", "user.created", "invitation.accepted"] {
        assert!(
            actions.iter().any(|a| a == expected),
            "{expected} in {actions:?}"
        );
    }
    // Only the SHA-256 of a token is stored.
    let hashes: Vec<String> = invitations::table
        .select(invitations::token_hash)
        .load(&mut conn)
        .expect("hashes");
    let token = new_link.trim_start_matches("/set-password/");
    assert!(hashes.iter().all(|h| h != token && h.len() == 64));
}

#[actix_web::test]
async fn invitation_links_expire_can_be_withdrawn_and_stay_inside_their_tenant() {
    let app = spawn_app().await;
    let a_pw = app.create_user("Clinic A", "owner@a.test", Role::Owner, false);
    let b_pw = app.create_user("Clinic B", "owner@b.test", Role::Owner, false);
    app.login("owner@a.test", &a_pw).await;

    // An own member gets a clear answer (it concerns only this tenant).
    let (_, _, flash, link) = invite(&app, "owner@a.test").await;
    assert_eq!(link, "", "no link for an own member");
    assert!(
        flash
            .iter()
            .any(|f| f.contains("already is a member of your organisation")),
        "{flash:?}"
    );

    // Inviting again voids the older link.
    let (_, _, _, first) = invite(&app, "late@new.test").await;
    let (_, _, _, second) = invite(&app, "late@new.test").await;
    assert_eq!(app.get_with(&new_client(), &first).await.status(), 410);
    assert_eq!(app.get_with(&new_client(), &second).await.status(), 200);

    // An expired link is refused and creates nothing.
    {
        let mut conn = app.db.get().expect("conn");
        diesel::update(invitations::table.filter(invitations::email.eq("late@new.test")))
            .set(
                invitations::expires_at
                    .eq(chrono::Utc::now().naive_utc() - chrono::Duration::minutes(1)),
            )
            .execute(&mut conn)
            .expect("expire");
    }
    let invitee = new_client();
    assert_eq!(app.get_with(&invitee, &second).await.status(), 410);
    let res = app
        .post_form_with(
            &invitee,
            "/login",
            &second,
            &[("password", CHOSEN), ("password_confirm", CHOSEN)],
        )
        .await;
    assert_eq!(res.status(), 410);
    assert_eq!(user_row(&app, "late@new.test"), None);

    // Another tenant neither sees nor withdraws A's invitation.
    let (_, _, _, pending) = invite(&app, "someone@new.test").await;
    let id: i64 = {
        let mut conn = app.db.get().expect("conn");
        invitations::table
            .filter(invitations::email.eq("someone@new.test"))
            .filter(invitations::revoked_at.is_null())
            .select(invitations::id)
            .first(&mut conn)
            .expect("id")
    };
    let b = new_client();
    app.login_with(&b, "owner@b.test", &b_pw).await;
    let b_page = app.get_with(&b, PAGE).await.text().await.expect("page");
    assert!(!b_page.contains("someone@new.test"));
    assert!(!b_page.contains("Pending invitations"));
    let res = app
        .post_form_with(
            &b,
            PAGE,
            PAGE,
            &[("action", "revoke"), ("invitation_id", &id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(app.get_with(&new_client(), &pending).await.status(), 200);

    // Its own tenant withdraws it: the link stops working at once.
    let res = app
        .post_form(
            PAGE,
            PAGE,
            &[("action", "revoke"), ("invitation_id", &id.to_string())],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.get_with(&new_client(), &pending).await.status(), 410);
    let page = app.get(PAGE).await.text().await.expect("page");
    assert!(page.contains("withdrawn"), "{page}");
    assert!(!page.contains("someone@new.test"));
}
