//! Issue 19 item 6: links are shown only to roles that may follow them. Every role signs in,
//! opens every sidebar page, and follows every same-origin link on it: none answers 403.

use std::collections::BTreeMap;

use payerwatch::devtools::generate::GenOptions;
use payerwatch::domain::roles::Role;
use payerwatch::web::view::nav::NAV;

use crate::common::{new_client, spawn_app};

/// The same-origin links of a page (`href="/…"`), without fragments, `&amp;` decoded.
fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .filter(|h| h.starts_with('/') && !h.starts_with("//"))
        .map(|h| h.split('#').next().unwrap_or(h).replace("&amp;", "&"))
        .filter(|h| !h.is_empty() && h != "/logout" && !h.starts_with("/static/"))
        .collect()
}

#[actix_web::test]
async fn no_role_is_shown_a_link_that_answers_403() {
    let app = spawn_app().await;
    let users = [
        ("viewer@clinic.test", Role::Viewer, false),
        ("analyst@clinic.test", Role::Analyst, false),
        ("admin@clinic.test", Role::Admin, false),
        ("owner@clinic.test", Role::Owner, false),
        ("staff@clinic.test", Role::Viewer, true),
    ]
    .map(|(email, role, staff)| (email, app.create_user("Clinic", email, role, staff)));
    let scope = app.scope_of("clinic");
    // Findings, alerts and payers, so the pages carry their detail, drill-down and CSV links.
    app.analysed(
        scope,
        &GenOptions {
            rows: 40_000,
            ..GenOptions::default()
        },
    )
    .await;

    let mut refused = Vec::new();
    for (email, password) in &users {
        let client = new_client();
        app.login_with(&client, email, password).await;
        // link -> the first page it was seen on
        let mut seen: BTreeMap<String, &str> = BTreeMap::new();
        for entry in NAV {
            let res = app.get_with(&client, entry.href).await;
            if res.status() != 200 {
                continue; // not this role's page (the sidebar does not show it)
            }
            for link in links(&res.text().await.expect("page")) {
                seen.entry(link).or_insert(entry.href);
            }
        }
        // Staff see few tenant pages; members see the data pages' links.
        let least = if email.starts_with("staff") { 5 } else { 20 };
        assert!(seen.len() > least, "{email}: links found: {}", seen.len());
        // One level deeper (an alert's page, a finding's, a payer's …): one page of each
        // shape (ids as digits), whose links are checked too.
        let mut shapes = std::collections::BTreeSet::new();
        let mut deeper: BTreeMap<String, String> = BTreeMap::new();
        for (link, page) in &seen {
            let res = app.get_with(&client, link).await;
            if res.status() == 403 {
                refused.push(format!("{email}: {link} (linked from {page})"));
                continue;
            }
            let path = link.split('?').next().unwrap_or(link);
            let shape: String = path
                .chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect();
            let html = res
                .headers()
                .get("content-type")
                .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html"));
            if res.status() == 200 && html && shapes.insert(shape) {
                for next in links(&res.text().await.expect("page")) {
                    if !seen.contains_key(&next) {
                        deeper.entry(next).or_insert_with(|| link.clone());
                    }
                }
            }
        }
        for (link, page) in &deeper {
            if app.get_with(&client, link).await.status() == 403 {
                refused.push(format!("{email}: {link} (linked from {page})"));
            }
        }
    }
    assert!(
        refused.is_empty(),
        "links answering 403:\n{}",
        refused.join("\n")
    );
}
