//! Error reporting to Sentry, on only when `SENTRY_DSN` is set, and the scrubber every
//! event and breadcrumb goes through before it leaves the process (SPEC §8):
//!
//! * URL path segments that are numbers or UUIDs → `{id}` (segments that look like PHI →
//!   `[REDACTED]`); the query string → `[FILTERED]`;
//! * request body / form data → `[FILTERED]`; cookies, `Authorization` and every header not
//!   on a short allow-list removed; the client address removed;
//! * the user reduced to its id;
//! * messages, exception values, breadcrumb messages, tags and extra values passed through
//!   the same PHI patterns as uploads (`domain::phi::redact`); breadcrumb data and stack
//!   frame variables dropped.
//!
//! Events are sent by sentry's small blocking `ureq` transport (system TLS); tests plug in
//! a capture transport through [`client_options`].

use std::borrow::Cow;
use std::sync::Arc;

use sentry::protocol::{Breadcrumb, Event, Request, User, Value};
use sentry::{ClientInitGuard, ClientOptions, TransportFactory};

use crate::config::Settings;
use crate::domain::phi;

pub const FILTERED: &str = "[FILTERED]";
pub const ID_SEGMENT: &str = "{id}";

/// Request headers kept on events; everything else (cookies, authorization, tokens,
/// forwarded addresses, referers with query strings…) is dropped.
const KEPT_HEADERS: [&str; 6] = [
    "accept",
    "content-length",
    "content-type",
    "host",
    "user-agent",
    "x-request-id",
];

/// The options for `settings`, or `None` when `SENTRY_DSN` is unset or not a valid DSN
/// (logged, never fatal: error reporting must not keep the service down).
pub fn client_options(
    settings: &Settings,
    transport: Option<Arc<dyn TransportFactory>>,
) -> Option<ClientOptions> {
    let raw = settings.sentry_dsn.as_deref()?;
    let dsn = match raw.parse() {
        Ok(dsn) => dsn,
        Err(_) => {
            tracing::error!("SENTRY_DSN is not a valid DSN; error reporting is off");
            return None;
        }
    };
    let mut options = ClientOptions::default();
    options.dsn = Some(dsn);
    options.release = Some(Cow::Owned(format!("payerwatch@{}", crate::VERSION)));
    options.environment = Some(Cow::Borrowed(if settings.is_production() {
        "production"
    } else {
        "development"
    }));
    options.send_default_pii = false;
    options.max_request_body_size = sentry::MaxRequestBodySize::None;
    options.before_send = Some(Arc::new(|event| Some(scrub_event(event))));
    options.before_breadcrumb = Some(Arc::new(|crumb| Some(scrub_breadcrumb(crumb))));
    if transport.is_some() {
        options.transport = transport;
    }
    Some(options)
}

/// Installs the process-wide client when `SENTRY_DSN` is set; keep the guard alive for
/// the life of the process (dropping it flushes pending events).
pub fn init(settings: &Settings) -> Option<ClientInitGuard> {
    let options = client_options(settings, None)?;
    let guard = sentry::init(options);
    tracing::info!(
        environment = if settings.is_production() {
            "production"
        } else {
            "development"
        },
        "error reporting to Sentry is on"
    );
    Some(guard)
}

/// Whether events would be sent from the current hub.
pub fn is_enabled() -> bool {
    sentry::Hub::current()
        .client()
        .is_some_and(|c| c.is_enabled())
}

/// The path segment before a one-time secret: set-password links are bearer tokens.
const TOKEN_PARENT: &str = "set-password";
const TOKEN_SEGMENT: &str = "{token}";

/// Numeric and UUID segments → `{id}`; a set-password token → `{token}`; a segment that
/// looks like PHI → `[REDACTED]`.
pub fn scrub_path(path: &str) -> String {
    let mut previous = "";
    path.split('/')
        .map(|segment| {
            let after_token_parent = std::mem::replace(&mut previous, segment) == TOKEN_PARENT;
            if after_token_parent && !segment.is_empty() {
                Cow::Borrowed(TOKEN_SEGMENT)
            } else if is_id_segment(segment) {
                Cow::Borrowed(ID_SEGMENT)
            } else if phi::contains_phi(&percent_decode(segment)) {
                Cow::Borrowed(phi::REDACTED)
            } else {
                Cow::Borrowed(segment)
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn is_id_segment(segment: &str) -> bool {
    (!segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()))
        || uuid::Uuid::try_parse(segment).is_ok()
}

/// Enough decoding for the PHI check (`%40` → `@`, `+` → space).
fn percent_decode(segment: &str) -> String {
    fn hex(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let decoded = match bytes[i] {
            b'%' if i + 2 < bytes.len() => hex(bytes[i + 1])
                .zip(hex(bytes[i + 2]))
                .map(|(h, l)| h * 16 + l),
            _ => None,
        };
        match decoded {
            Some(b) => {
                out.push(b);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn scrub_request(request: &mut Request) {
    if let Some(url) = request.url.as_mut() {
        let path = scrub_path(url.path());
        url.set_path(&path);
        if url.query().is_some() {
            url.set_query(Some(FILTERED));
        }
        url.set_fragment(None);
        let _ = url.set_username("");
        let _ = url.set_password(None);
    }
    if request.query_string.is_some() {
        request.query_string = Some(FILTERED.to_string());
    }
    if request.data.is_some() {
        request.data = Some(FILTERED.to_string());
    }
    request.cookies = None;
    request
        .headers
        .retain(|name, _| KEPT_HEADERS.contains(&name.to_ascii_lowercase().as_str()));
    for value in request.headers.values_mut() {
        *value = phi::redact(value);
    }
    request.env.clear();
}

fn scrub_text(text: &mut String) {
    redact_link_tokens(text);
    if phi::contains_phi(text) {
        *text = phi::redact(text);
    }
}

/// `…/set-password/<token>…` in free text (messages, transactions) → `…/set-password/{token}…`.
fn redact_link_tokens(text: &mut String) {
    let marker = "/set-password/";
    let mut from = 0;
    while let Some(at) = text[from..].find(marker) {
        let start = from + at + marker.len();
        let len = text[start..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .unwrap_or(text.len() - start);
        text.replace_range(start..start + len, TOKEN_SEGMENT);
        from = start + TOKEN_SEGMENT.len();
    }
}

/// Strings inside a JSON value go through the PHI redaction; structure stays.
fn scrub_value(value: &mut Value) {
    match value {
        Value::String(s) => scrub_text(s),
        Value::Array(items) => items.iter_mut().for_each(scrub_value),
        Value::Object(map) => map.values_mut().for_each(scrub_value),
        _ => {}
    }
}

/// The `before_send` scrubber (see the module documentation).
pub fn scrub_event(mut event: Event<'static>) -> Event<'static> {
    if let Some(request) = event.request.as_mut() {
        scrub_request(request);
    }
    if let Some(user) = event.user.take() {
        event.user = user.id.map(|id| User {
            id: Some(id),
            ..User::default()
        });
    }
    if let Some(message) = event.message.as_mut() {
        scrub_text(message);
    }
    if let Some(entry) = event.logentry.as_mut() {
        scrub_text(&mut entry.message);
        entry.params.iter_mut().for_each(scrub_value);
    }
    if let Some(transaction) = event.transaction.as_mut() {
        *transaction = scrub_path(transaction);
        scrub_text(transaction);
    }
    if let Some(culprit) = event.culprit.as_mut() {
        scrub_text(culprit);
    }
    for exception in event.exception.values.iter_mut() {
        if let Some(value) = exception.value.as_mut() {
            scrub_text(value);
        }
        for trace in [
            exception.stacktrace.as_mut(),
            exception.raw_stacktrace.as_mut(),
        ]
        .into_iter()
        .flatten()
        {
            for frame in trace.frames.iter_mut() {
                frame.vars.clear();
            }
        }
    }
    for thread in event.threads.values.iter_mut() {
        if let Some(trace) = thread.stacktrace.as_mut() {
            for frame in trace.frames.iter_mut() {
                frame.vars.clear();
            }
        }
    }
    if let Some(trace) = event.stacktrace.as_mut() {
        for frame in trace.frames.iter_mut() {
            frame.vars.clear();
        }
    }
    event.breadcrumbs.values = std::mem::take(&mut event.breadcrumbs.values)
        .into_iter()
        .map(scrub_breadcrumb)
        .collect();
    for value in event.tags.values_mut() {
        scrub_text(value);
    }
    event.extra.values_mut().for_each(scrub_value);
    event
}

/// The `before_breadcrumb` scrubber: message redacted, data dropped (it carries URLs,
/// SQL and arguments).
pub fn scrub_breadcrumb(mut crumb: Breadcrumb) -> Breadcrumb {
    if let Some(message) = crumb.message.as_mut() {
        scrub_text(message);
    }
    crumb.data.clear();
    crumb
}

#[cfg(test)]
mod tests {
    use super::*;
    use sentry::protocol::{Exception, LogEntry, Map, Values};

    const SSN: &str = "123-45-6789";
    const PHONE: &str = "(555) 867-5309";
    const EMAIL: &str = "jane.roe@example.com";
    const MRN: &str = "MRN 12345678";
    const DOB: &str = "DOB 04/12/1961";
    const NAME: &str = "called patient Jennifer";

    fn event_with_message(text: &str) -> Event<'static> {
        Event {
            message: Some(text.to_string()),
            exception: Values {
                values: vec![Exception {
                    ty: "AppError".into(),
                    value: Some(format!("could not save: {text}")),
                    ..Exception::default()
                }],
            },
            logentry: Some(LogEntry {
                message: format!("failed for {text}"),
                params: vec![Value::String(text.to_string())],
            }),
            breadcrumbs: Values {
                values: vec![Breadcrumb {
                    message: Some(format!("note {text}")),
                    data: Map::from([("body".to_string(), Value::String(text.to_string()))]),
                    ..Breadcrumb::default()
                }],
            },
            extra: Map::from([("input".to_string(), Value::String(text.to_string()))]),
            ..Event::default()
        }
    }

    fn serialized(event: &Event<'static>) -> String {
        serde_json::to_string(event).expect("event serializes")
    }

    #[test]
    fn every_kind_of_phi_is_redacted_from_messages_exceptions_and_breadcrumbs() {
        let cases = [
            (SSN, "123-45-6789"),
            (PHONE, "867-5309"),
            (EMAIL, "jane.roe@example.com"),
            (MRN, "12345678"),
            (DOB, "04/12/1961"),
            (NAME, "Jennifer"),
        ];
        for (text, secret) in cases {
            let scrubbed = scrub_event(event_with_message(text));
            let json = serialized(&scrubbed);
            assert!(!json.contains(secret), "{secret} leaked: {json}");
            assert!(json.contains(phi::REDACTED), "{json}");
            let exception = scrubbed.exception.values[0].value.as_deref().unwrap_or("");
            assert!(exception.starts_with("could not save: "), "{exception}");
            assert!(scrubbed.breadcrumbs.values[0].data.is_empty());
        }
    }

    #[test]
    fn request_urls_cookies_headers_and_bodies_are_scrubbed() {
        let mut headers = Map::new();
        headers.insert("Cookie".to_string(), "id=session-secret".to_string());
        headers.insert("Authorization".to_string(), "Bearer tok-secret".to_string());
        headers.insert("X-Api-Key".to_string(), "key-secret".to_string());
        headers.insert(
            "Referer".to_string(),
            "https://x/?ssn=123-45-6789".to_string(),
        );
        headers.insert("User-Agent".to_string(), "Mozilla/5.0".to_string());
        let mut env = Map::new();
        env.insert("REMOTE_ADDR".to_string(), "203.0.113.9".to_string());
        let event = Event {
            request: Some(Request {
                url: "https://pw.example.org/portal/uploads/42/rows/3f2b8c1e-9d4a-4f6b-8e2a-1c3d5e7f9a0b/jane.roe%40example.com?payer=Aetna&q=123-45-6789#frag"
                    .parse()
                    .ok(),
                method: Some("POST".to_string()),
                data: Some("password=hunter2&note=MRN 1234567".to_string()),
                query_string: Some("payer=Aetna&q=123-45-6789".to_string()),
                cookies: Some("id=session-secret".to_string()),
                headers,
                env,
            }),
            user: Some(User {
                id: Some("17".to_string()),
                email: Some("jane.roe@example.com".to_string()),
                username: Some("jroe".to_string()),
                ip_address: None,
                other: Map::from([("role".to_string(), Value::String("owner".into()))]),
            }),
            transaction: Some("GET /portal/uploads/42".to_string()),
            ..Event::default()
        };
        let scrubbed = scrub_event(event);
        let request = scrubbed.request.as_ref().expect("request kept");
        assert_eq!(
            request.url.as_ref().map(|u| u.as_str()),
            Some(
                "https://pw.example.org/portal/uploads/%7Bid%7D/rows/%7Bid%7D/[REDACTED]?[FILTERED]"
            )
        );
        assert_eq!(request.query_string.as_deref(), Some(FILTERED));
        assert_eq!(request.data.as_deref(), Some(FILTERED));
        assert!(request.cookies.is_none());
        let names: Vec<&str> = request.headers.keys().map(String::as_str).collect();
        assert_eq!(names, vec!["User-Agent"]);
        assert!(request.env.is_empty());
        let user = scrubbed.user.as_ref().expect("user id kept");
        assert_eq!(user.id.as_deref(), Some("17"));
        assert!(user.email.is_none() && user.username.is_none() && user.other.is_empty());
        assert_eq!(
            scrubbed.transaction.as_deref(),
            Some("GET /portal/uploads/{id}")
        );
        let json = serialized(&scrubbed);
        for secret in [
            "session-secret",
            "tok-secret",
            "key-secret",
            "hunter2",
            "123-45-6789",
            "jane.roe",
            "203.0.113.9",
            "Aetna",
        ] {
            assert!(!json.contains(secret), "{secret} leaked: {json}");
        }
    }

    #[test]
    fn path_segments_become_ids() {
        assert_eq!(
            scrub_path("/portal/alerts/17/judgment"),
            "/portal/alerts/{id}/judgment"
        );
        assert_eq!(
            scrub_path("/api/v1/uploads/3F2B8C1E-9D4A-4F6B-8E2A-1C3D5E7F9A0B"),
            "/api/v1/uploads/{id}"
        );
        assert_eq!(scrub_path("/portal/drift"), "/portal/drift");
        assert_eq!(scrub_path("/x/123-45-6789"), "/x/[REDACTED]");
        assert_eq!(percent_decode("a%40b.org"), "a@b.org");
        assert_eq!(percent_decode("50%"), "50%");
    }

    #[test]
    fn options_only_exist_with_a_dsn() {
        let mut settings = Settings::from_lookup(|_| None).expect("defaults");
        assert!(client_options(&settings, None).is_none());
        settings.sentry_dsn = Some("not a dsn".to_string());
        assert!(client_options(&settings, None).is_none());
        settings.sentry_dsn = Some("https://public@sentry.example.org/1".to_string());
        let options = client_options(&settings, None).expect("options");
        assert_eq!(options.environment.as_deref(), Some("development"));
        assert!(
            options
                .release
                .as_deref()
                .is_some_and(|r| r.starts_with("payerwatch@"))
        );
        assert!(options.before_send.is_some() && !options.send_default_pii);
    }

    #[test]
    fn set_password_tokens_never_reach_sentry() {
        let token = "Zm9vYmFyYmF6cXV4c2VjcmV0dG9rZW4xMjM0NTY3OA";
        assert_eq!(
            scrub_path(&format!("/set-password/{token}")),
            "/set-password/{token}"
        );
        let mut event = event_with_message(&format!("GET /set-password/{token} failed"));
        event.transaction = Some(format!("/set-password/{token}"));
        let json = serialized(&scrub_event(event));
        assert!(!json.contains(token), "{json}");
    }
}
