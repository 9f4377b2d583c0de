//! The abuse suite, CI size (issue 16, deliverable 7; the full corpus is `scripts/abuse`):
//! a hostile CSV corpus is uploaded file by file through the web form while a second tenant
//! keeps signing in and reading pages. Asserts: no 5xx for the bystander, every file ends
//! with its own message, and no PHI string appears in any response or any table.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;
use payerwatch::domain::roles::Role;

use crate::common::{TestApp, TestDatabase, csrf_token, location, new_client, spawn_app};

const HEADER: &str = "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text\n";
const ROW: &str = "Aetna,99213,2026-01-02,2026-01-10,DENIED,10.00,CO-16,x\n";

/// PHI planted in the corpus; none of it may come back out.
const PHI: [&str; 4] = [
    "123-45-6789",
    "(555) 867-5309",
    "jane.doe@example.com",
    "MRN 7654321",
];

/// One hostile file and a fragment of the message its upload must end with.
pub struct Hostile {
    pub name: &'static str,
    pub body: Vec<u8>,
    pub expect: &'static str,
}

/// The corpus at a scale (1 = CI; the script generates its own at full size).
pub fn corpus(scale: usize) -> Vec<Hostile> {
    let with = |mut head: Vec<u8>, tail: &[u8], times: usize| {
        for _ in 0..times {
            head.extend_from_slice(tail);
        }
        head
    };
    let header = HEADER.as_bytes().to_vec();
    let mut wide = HEADER.trim_end().to_owned();
    for i in 0..(20_000 * scale) {
        wide.push_str(&format!(",c{i}"));
    }
    wide.push('\n');
    let mut utf16 = vec![0xFF, 0xFE];
    for unit in format!("{HEADER}{ROW}").encode_utf16() {
        utf16.extend(unit.to_le_bytes());
    }
    let phi_everywhere = format!(
        "payer,cpt,submitted_date,decided_date,outcome,allowed_amount,denial_reason_code,denial_reason_text,SSN 123-45-6789\n\
         Jane Doe (555) 867-5309,99213,2026-01-02,2026-01-10,DENIED,1,123-45-6789,MRN 7654321,jane.doe@example.com\n\
         Aetna,99213,2026-01-02,2026-01-10,DENIED,1,jane.doe@example.com,call (555) 867-5309,x\n\
         {ROW}"
    );
    let headless = format!("Jane,123-45-6789,jane.doe@example.com,jane.doe@example.com\n{ROW}");
    vec![
        Hostile {
            name: "wide.csv",
            body: wide.into_bytes(),
            expect: "more than the limit of 256 columns",
        },
        Hostile {
            name: "newlines.csv",
            body: with(header.clone(), b"\n", 2_000_000 * scale),
            expect: "no data rows",
        },
        Hostile {
            name: "commas.csv",
            body: with(
                format!("{HEADER}{ROW}").into_bytes(),
                b",",
                1_000_000 * scale,
            ),
            expect: "more than the limit of 256 columns",
        },
        Hostile {
            name: "field.csv",
            body: with(
                format!("{HEADER}Aetna,\"").into_bytes(),
                b"a",
                1_000_000 * scale,
            ),
            expect: "limit of 8 KiB",
        },
        Hostile {
            name: "nul.csv",
            body: with(Vec::new(), b"\0\0\0,\0\n", 10_000),
            expect: "not a text CSV",
        },
        Hostile {
            name: "utf16.csv",
            body: utf16,
            expect: "UTF-16",
        },
        Hostile {
            name: "cr-only.csv",
            body: format!("{HEADER}{ROW}{ROW}")
                .replace('\n', "\r")
                .into_bytes(),
            expect: "CR only",
        },
        Hostile {
            name: "unbalanced.csv",
            body: with(
                format!("{HEADER}Aetna,\"99213,").into_bytes(),
                ROW.as_bytes(),
                500,
            ),
            expect: "limit of 8 KiB",
        },
        Hostile {
            name: "nested.csv",
            body: with(format!("{HEADER}Aetna,").into_bytes(), b"\"\"\"", 10_000),
            expect: "limit of 8 KiB",
        },
        Hostile {
            name: "tiny-rows.csv",
            body: with(header.clone(), b"a\n", 20_000 * scale),
            expect: "every row was rejected",
        },
        Hostile {
            name: "phi.csv",
            body: phi_everywhere.into_bytes(),
            expect: "partial",
        },
        Hostile {
            name: "headless.csv",
            body: headless.into_bytes(),
            expect: "appears more than once (columns 3 and 4)",
        },
    ]
}

fn assert_no_phi(what: &str, text: &str) {
    for needle in PHI {
        assert!(!text.contains(needle), "{needle} found in {what}");
    }
}

/// The second tenant: signs in and reads pages until told to stop; returns the statuses.
async fn bystander(
    app: Arc<TestApp>,
    email: String,
    password: String,
    stop: Arc<AtomicBool>,
) -> Vec<(String, u16)> {
    let mut seen = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let client = new_client();
        let login = app.login_with(&client, &email, &password).await;
        seen.push(("POST /login".to_owned(), login.status().as_u16()));
        for path in ["/portal", "/portal/uploads", "/portal/alerts", "/healthz"] {
            let res = app.get_with(&client, path).await;
            let status = res.status().as_u16();
            let body = res.text().await.unwrap_or_default();
            assert_no_phi(path, &body);
            seen.push((path.to_owned(), status));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}

async fn final_page(app: &TestApp, client: &reqwest::Client, path: &str) -> String {
    for _ in 0..600 {
        let page = app.get_with(client, path).await.text().await.expect("page");
        if !page.contains("Processing…") && !page.contains("Queued") {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never finished");
}

#[derive(QueryableByName)]
struct Line {
    #[diesel(sql_type = Text)]
    line: String,
}

/// Every stored byte of the test database, as text (SQLite: the files; PostgreSQL: every
/// row of every table).
fn stored_text(database: &TestDatabase) -> String {
    match database {
        TestDatabase::Sqlite { url, .. } => {
            let path = url.trim_start_matches("sqlite://");
            let mut all = Vec::new();
            for suffix in ["", "-wal"] {
                if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                    all.extend(bytes);
                }
            }
            String::from_utf8_lossy(&all).into_owned()
        }
        TestDatabase::Postgres { url, .. } => {
            let mut pg = diesel::PgConnection::establish(url).expect("pg");
            let tables: Vec<Line> = diesel::sql_query(
                "SELECT table_name::text AS line FROM information_schema.tables WHERE table_schema = 'public'",
            )
            .load(&mut pg)
            .expect("tables");
            let mut all = String::new();
            for t in tables {
                let rows: Vec<Line> = diesel::sql_query(format!(
                    "SELECT CAST(t AS TEXT) AS line FROM \"{}\" t",
                    t.line
                ))
                .load(&mut pg)
                .expect("rows");
                for r in rows {
                    all.push_str(&r.line);
                    all.push('\n');
                }
            }
            all
        }
    }
}

#[actix_web::test]
async fn hostile_uploads_do_not_hurt_another_tenant_or_leak_phi() {
    let app = Arc::new(spawn_app().await);
    let password = app.create_user("Clinic", "analyst@clinic.test", Role::Analyst, false);
    app.login("analyst@clinic.test", &password).await;
    let other = app.create_user("Other", "viewer@other.test", Role::Viewer, false);
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = actix_web::rt::spawn(bystander(
        Arc::clone(&app),
        "viewer@other.test".into(),
        other,
        Arc::clone(&stop),
    ));

    for file in corpus(1) {
        let page = app.get("/portal/uploads").await.text().await.expect("page");
        let token = csrf_token(&page).expect("token");
        let part = reqwest::multipart::Part::bytes(file.body)
            .file_name(file.name)
            .mime_str("text/csv")
            .expect("mime");
        let form = reqwest::multipart::Form::new()
            .text("csrf_token", token)
            .part("file", part);
        let res = app
            .client
            .post(app.url("/portal/uploads"))
            .multipart(form)
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 303, "{}", file.name);
        let path = location(&res);
        let page = final_page(&app, &app.client, &path).await;
        assert!(
            page.contains(file.expect),
            "{}: expected {:?} on its page",
            file.name,
            file.expect
        );
        assert_no_phi(file.name, &page);
        let rejections = app.get(&format!("{path}/rejections.csv")).await;
        assert_no_phi(
            "rejections.csv",
            &rejections.text().await.unwrap_or_default(),
        );
    }

    stop.store(true, Ordering::Relaxed);
    let seen = watcher.await.expect("bystander");
    assert!(seen.len() >= 5, "the bystander made requests: {seen:?}");
    let errors: Vec<_> = seen.iter().filter(|(_, s)| *s >= 500).collect();
    assert!(errors.is_empty(), "bystander saw server errors: {errors:?}");
    assert!(
        seen.iter()
            .filter(|(p, _)| p == "POST /login")
            .all(|(_, s)| *s == 303),
        "every bystander login succeeded: {seen:?}"
    );
    assert_no_phi("the database", &stored_text(app.own_database()));
}
