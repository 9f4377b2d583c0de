//! The README's first command: `payerwatch demo` loads generated claims, prints the
//! logins and serves the portal with the injected findings — into a fresh SQLite file,
//! or (with `PAYERWATCH_TEST_POSTGRES`) into an empty PostgreSQL database, which it
//! refuses once it holds data.

use std::io::BufRead;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use payerwatch::db::Backend;

use crate::common::{TestDatabase, csrf_token, new_client};

/// Kills the server when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn demo_command(database: &str, port: u16) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_payerwatch"));
    command
        .args(["demo", "--database", database])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .env("RUST_LOG", "warn")
        .env("PAYERWATCH_LOG_FORMAT", "text");
    command
}

#[actix_web::test]
async fn demo_prints_logins_and_serves_the_injected_findings() {
    let database = TestDatabase::create();
    let target = match database.backend() {
        Backend::Postgres => database.url().to_string(),
        Backend::Sqlite => database.url().trim_start_matches("sqlite://").to_string(),
    };
    let port = free_port();
    let mut child = demo_command(&target, port)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("demo started");
    // The log, kept to check that starting logged no error (issue 14, symptom 5: "ERROR
    // database is locked" while the pool opened its SQLite connections).
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("stderr");
    let log_sink = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Ok(mut log) = log_sink.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    // Drained to the end on a thread, so the server never writes into a closed pipe.
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().expect("stdout");
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if lines_tx.send(line).is_err() {
                break;
            }
        }
    });
    let _server = Running(child);

    let mut printed = Vec::new();
    while !printed.iter().any(|l: &String| l.contains("DelayGuard:")) {
        let line = lines
            .recv_timeout(Duration::from_secs(180))
            .unwrap_or_else(|e| panic!("demo output stopped ({e}): {printed:#?}"));
        printed.push(line);
    }
    let owner_password = printed
        .iter()
        .find(|l| l.contains("owner@demo.test"))
        .and_then(|l| l.split_whitespace().last())
        .expect("owner login printed")
        .to_string();
    assert!(
        printed.iter().any(|l| l.contains("staff@demo.test")),
        "{printed:#?}"
    );
    assert!(
        printed
            .iter()
            .any(|l| l.contains("49552 of 50000 generated rows accepted")),
        "{printed:#?}"
    );

    let base = format!("http://127.0.0.1:{port}");
    let client = new_client();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match client.get(format!("{base}/healthz")).send().await {
            Ok(r) if r.status() == 200 => break,
            _ if Instant::now() < deadline => {
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
            other => panic!("the demo never became healthy: {other:?}"),
        }
    }
    let login_page = client
        .get(format!("{base}/login"))
        .send()
        .await
        .expect("login page")
        .text()
        .await
        .expect("body");
    let token = csrf_token(&login_page).expect("csrf token");
    let signed_in = client
        .post(format!("{base}/login"))
        .form(&[
            ("email", "owner@demo.test"),
            ("password", owner_password.as_str()),
            ("csrf_token", token.as_str()),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(signed_in.status(), 303);
    let feed = client
        .get(format!("{base}/portal/drift"))
        .send()
        .await
        .expect("feed");
    assert_eq!(feed.status(), 200);
    let feed = feed.text().await.expect("body");
    // The generator's injected changes as findings (the filter lists name every payer,
    // so the finding headings are what is looked for).
    for expected in [">Cigna</a> × IMAGING</h3>", ">Humana</a> × "] {
        assert!(feed.contains(expected), "{expected} missing from the feed");
    }

    let logged = log.lock().map(|l| l.clone()).unwrap_or_default();
    assert!(
        !logged.contains("database is locked") && !logged.contains("ERROR"),
        "the demo logged an error while starting: {logged}"
    );

    if database.backend() == Backend::Postgres {
        // A second demo into the same database refuses instead of mixing tenants' data.
        // Were it to accept, it would serve forever: it is given a deadline.
        let mut again = demo_command(&target, free_port())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("second demo started");
        let deadline = Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = again.try_wait().expect("status") {
                break status;
            }
            if Instant::now() > deadline {
                let _ = again.kill();
                panic!("a second demo into a database with data did not stop");
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        assert!(!status.success());
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut again.stderr.take().expect("stderr"), &mut stderr)
            .expect("stderr read");
        assert!(
            stderr.contains("needs an empty PostgreSQL database"),
            "{stderr}"
        );
    }
}
