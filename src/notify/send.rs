//! Sending one message over one channel: HTTP POST for webhooks and Slack (10 s timeout,
//! no redirects, connecting only to the addresses the SSRF check approved), SMTP through
//! `lettre` for e-mail. Errors are described without URLs, secrets or server banners.

use std::time::Duration;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use crate::domain::channels::{self, ChannelError, ChannelSettings, SmtpTls};

pub const TIMEOUT: Duration = Duration::from_secs(10);
const MAX_ERROR_CHARS: usize = 300;

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendResult {
    pub status_code: Option<i64>,
    /// `None` when delivered.
    pub error: Option<String>,
    /// A retry cannot help (bad configuration, refused target).
    pub permanent: bool,
}

impl SendResult {
    pub fn delivered(status: Option<i64>) -> Self {
        SendResult {
            status_code: status,
            error: None,
            permanent: false,
        }
    }

    pub fn failed(status: Option<i64>, error: impl Into<String>) -> Self {
        let mut error: String = error.into();
        if error.chars().count() > MAX_ERROR_CHARS {
            error = error.chars().take(MAX_ERROR_CHARS).collect();
        }
        SendResult {
            status_code: status,
            error: Some(error),
            permanent: false,
        }
    }

    pub fn permanent(error: impl Into<String>) -> Self {
        SendResult {
            permanent: true,
            ..SendResult::failed(None, error)
        }
    }
}

/// POSTs a JSON body with extra headers; 2xx is delivered.
pub async fn post_json(
    url: &str,
    body: String,
    headers: Vec<(&'static str, String)>,
    allow_private: bool,
) -> SendResult {
    let url = match channels::parse_target_url(url) {
        Ok(u) => u,
        Err(e) => return SendResult::permanent(e.to_string()),
    };
    let check_url = url.clone();
    // DNS is blocking; the addresses that pass the check are the only ones connected to.
    let resolved =
        tokio::task::spawn_blocking(move || channels::resolve_checked(&check_url, allow_private))
            .await;
    let addrs = match resolved {
        Ok(Ok(addrs)) => addrs,
        Ok(Err(e @ ChannelError::PrivateTarget)) => return SendResult::permanent(e.to_string()),
        Ok(Err(e)) => return SendResult::failed(None, e.to_string()),
        Err(_) => return SendResult::failed(None, "name resolution was cancelled"),
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let mut header_map = HeaderMap::new();
    header_map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    header_map.insert(
        USER_AGENT,
        HeaderValue::from_static(concat!("PayerWatch/", env!("CARGO_PKG_VERSION"))),
    );
    for (name, value) in headers {
        if let Ok(v) = HeaderValue::from_str(&value) {
            header_map.insert(HeaderName::from_static(name), v);
        }
    }
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        // HTTP(S)_PROXY from the environment would connect elsewhere than the checked
        // addresses.
        .no_proxy()
        .resolve_to_addrs(&host, &addrs)
        .build()
    {
        Ok(c) => c,
        Err(_) => return SendResult::failed(None, "the HTTP client could not be built"),
    };
    match client.post(url).headers(header_map).body(body).send().await {
        Ok(resp) => {
            let status = resp.status();
            let code = Some(i64::from(status.as_u16()));
            if status.is_success() {
                SendResult::delivered(code)
            } else if status.is_redirection() {
                SendResult::failed(
                    code,
                    format!("HTTP {} (redirects are not followed)", status.as_u16()),
                )
            } else {
                SendResult::failed(code, format!("HTTP {}", status.as_u16()))
            }
        }
        Err(e) => SendResult::failed(None, describe_http_error(&e)),
    }
}

/// reqwest's own messages include the URL (which can carry a Slack token); say what
/// happened instead.
fn describe_http_error(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        format!("timed out after {} s", TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect to the receiver".to_string()
    } else if e.is_request() || e.is_body() {
        "the request could not be sent".to_string()
    } else {
        "the receiver's answer could not be read".to_string()
    }
}

/// E-mail settings as the sender needs them.
pub struct Email<'a> {
    pub settings: &'a ChannelSettings,
    pub recipients: Vec<String>,
    pub password: Option<String>,
    pub hello_name: String,
    pub subject: String,
    pub body: String,
    /// `PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS`: lifts the SSRF policy (loopback test sinks).
    pub allow_private: bool,
    /// lettre's limit per socket operation. The worker bounds the whole send with its
    /// deadline, but cannot stop this blocking thread: a limit no longer than the
    /// deadline keeps an abandoned SMTP dialogue from lingering long after it.
    pub timeout: Duration,
}

/// Sends one e-mail; blocking (run it on the blocking pool).
pub fn send_email(mail: Email<'_>) -> SendResult {
    use lettre::message::header::ContentType;
    use lettre::transport::smtp::authentication::Credentials;
    use lettre::transport::smtp::client::{Tls, TlsParameters};
    use lettre::transport::smtp::extension::ClientId;
    use lettre::{Message, SmtpTransport, Transport};

    let s = mail.settings;
    let (Some(host), Some(from)) = (s.smtp_host.as_deref(), s.smtp_from.as_deref()) else {
        return SendResult::permanent("the channel has no SMTP host or sender");
    };
    let tls_mode = s.smtp_tls.unwrap_or_default();
    let port = channels::smtp_port(s.smtp_port, tls_mode);
    // Resolved and checked here, then connected by address: the name cannot be re-pointed
    // at an internal host between the check and the connection (TLS still verifies the
    // name).
    let pinned = match channels::resolve_smtp_checked(host, port, mail.allow_private) {
        Ok(addrs) => match addrs.first() {
            Some(a) => a.ip().to_string(),
            None => return SendResult::failed(None, ChannelError::Unresolvable.to_string()),
        },
        Err(e @ (ChannelError::PrivateTarget | ChannelError::SmtpPort)) => {
            return SendResult::permanent(e.to_string());
        }
        Err(e) => return SendResult::failed(None, e.to_string()),
    };
    let tls = match tls_mode {
        SmtpTls::None => Tls::None,
        SmtpTls::Starttls | SmtpTls::Tls => match TlsParameters::new(host.to_string()) {
            Ok(p) if tls_mode == SmtpTls::Tls => Tls::Wrapper(p),
            Ok(p) => Tls::Required(p),
            Err(_) => return SendResult::permanent("TLS could not be set up for the SMTP host"),
        },
    };
    let mut builder = Message::builder()
        .subject(mail.subject)
        .header(ContentType::TEXT_PLAIN);
    match from.parse() {
        Ok(f) => builder = builder.from(f),
        Err(_) => return SendResult::permanent("the sender address is not valid"),
    }
    for (i, r) in mail.recipients.iter().enumerate() {
        match r.parse() {
            Ok(to) => builder = builder.to(to),
            Err(_) => {
                return SendResult::permanent(format!("recipient {} is not valid", i + 1));
            }
        }
    }
    let message = match builder.body(mail.body) {
        Ok(m) => m,
        Err(_) => return SendResult::permanent("the message could not be built"),
    };
    let mut transport = SmtpTransport::builder_dangerous(pinned)
        .port(port)
        .tls(tls)
        .timeout(Some(mail.timeout.min(TIMEOUT)))
        .hello_name(ClientId::Domain(mail.hello_name));
    if let (Some(user), Some(password)) = (s.smtp_username.clone(), mail.password) {
        transport = transport.credentials(Credentials::new(user, password));
    }
    match transport.build().send(&message) {
        Ok(response) => SendResult::delivered(Some(i64::from(u16::from(response.code())))),
        Err(e) => {
            let code = e.status().map(|c| i64::from(u16::from(c)));
            let what = if e.is_timeout() {
                format!("timed out after {} s", mail.timeout.min(TIMEOUT).as_secs())
            } else if e.is_permanent() {
                "the SMTP server refused the message".to_string()
            } else if e.is_transient() {
                "the SMTP server deferred the message".to_string()
            } else if e.is_tls() {
                "TLS with the SMTP server failed".to_string()
            } else {
                "could not talk to the SMTP server".to_string()
            };
            SendResult::failed(
                code,
                match code {
                    Some(c) => format!("{what} (SMTP {c})"),
                    None => what,
                },
            )
        }
    }
}
