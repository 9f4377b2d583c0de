//! The base of absolute links shown to people (invite and reset links): SPEC §6 —
//! `PAYERWATCH_PUBLIC_URL` when set (required in production); unset in development, the
//! request's own `Host` when it is an allowed host, else `http://<bind>`.
//! `X-Forwarded-Host` is never read: it let a request pick the host of a reset link
//! (review 2026-12, row 18).

use actix_web::HttpRequest;
use actix_web::http::header::HOST;

use crate::config::Settings;

pub fn base(req: &HttpRequest, settings: &Settings) -> String {
    if !settings.public_url_from_request {
        return settings.public_url.clone();
    }
    let host = req
        .headers()
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase)
        .filter(|h| {
            !h.is_empty()
                && h.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
        });
    match host {
        Some(h) if host_allowed(&h, &settings.allowed_hosts) => format!("http://{h}"),
        _ => settings.public_url.clone(),
    }
}

fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    allowed.is_empty() || allowed.iter().any(|a| a == name)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        Settings::from_lookup(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .expect("settings")
    }

    #[test]
    fn forwarded_host_is_never_a_link_host() {
        let req = TestRequest::default()
            .insert_header(("host", "127.0.0.1:8080"))
            .insert_header(("x-forwarded-host", "evil.example"))
            .to_http_request();
        assert_eq!(base(&req, &settings(&[])), "http://127.0.0.1:8080");
        let fixed = settings(&[("PAYERWATCH_PUBLIC_URL", "https://pw.example.org/")]);
        assert_eq!(base(&req, &fixed), "https://pw.example.org");
        let only = settings(&[("PAYERWATCH_ALLOWED_HOSTS", "pw.local")]);
        assert_eq!(base(&req, &only), only.public_url);
        let odd = TestRequest::default()
            .insert_header(("host", "a/b@evil"))
            .to_http_request();
        assert_eq!(base(&odd, &settings(&[])), settings(&[]).public_url);
    }
}
