//! Notification channels: what each kind needs, how its settings are validated, and
//! which network targets are refused (SSRF: an admin must not be able to make the server
//! call into its own network — metadata services, databases, admin consoles).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};
use url::Url;

pub use crate::domain::email::is_email;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Email,
    Slack,
    Webhook,
}

crate::domain::names::from_stored_name!(ChannelKind, "channel kind");

impl ChannelKind {
    pub const ALL: [ChannelKind; 3] =
        [ChannelKind::Email, ChannelKind::Slack, ChannelKind::Webhook];

    /// The kind stored or posted as `s` (its `as_str`).
    pub fn parse(s: &str) -> Option<Self> {
        s.parse().ok()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ChannelKind::Email => "email",
            ChannelKind::Slack => "slack",
            ChannelKind::Webhook => "webhook",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ChannelKind::Email => "E-mail",
            ChannelKind::Slack => "Slack",
            ChannelKind::Webhook => "Webhook",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    /// `X-PayerWatch-Signature: t=<unix>,v1=<hex HMAC of "<t>.<body>">`.
    #[default]
    PayerwatchV1,
    /// `X-Signature: <hex HMAC of the body>` for receivers built for the old system.
    LegacyHex,
}

impl SignatureScheme {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "payerwatch-v1" | "" => Some(SignatureScheme::PayerwatchV1),
            "legacy-hex" => Some(SignatureScheme::LegacyHex),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::PayerwatchV1 => "payerwatch-v1",
            SignatureScheme::LegacyHex => "legacy-hex",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on the same host or network).
    None,
    /// STARTTLS required.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

impl SmtpTls {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "none" => Some(SmtpTls::None),
            "starttls" | "" => Some(SmtpTls::Starttls),
            "tls" => Some(SmtpTls::Tls),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SmtpTls::None => "none",
            SmtpTls::Starttls => "starttls",
            SmtpTls::Tls => "tls",
        }
    }
}

/// Non-secret settings, stored as JSON beside the channel.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq)]
pub struct ChannelSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_tls: Option<SmtpTls>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp_username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature_scheme: Option<SignatureScheme>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    #[error("{0}")]
    Invalid(String),
    /// No address in the text: the refusal must not tell a tenant admin what an internal
    /// name resolves to (review 2026-12, row 13).
    #[error(
        "the target is on a private, loopback or link-local network; notifications there are refused"
    )]
    PrivateTarget,
    #[error("the host name does not resolve")]
    Unresolvable,
    #[error("the SMTP port must be 25, 465, 587 or 2525")]
    SmtpPort,
}

/// Checks a webhook or Slack URL's shape: http(s), a host, no credentials.
pub fn parse_target_url(raw: &str) -> Result<Url, ChannelError> {
    let url =
        Url::parse(raw.trim()).map_err(|_| ChannelError::Invalid("the URL is not valid".into()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ChannelError::Invalid(
            "the URL must start with http:// or https://".into(),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ChannelError::Invalid("the URL needs a host".into()));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ChannelError::Invalid(
            "put credentials in the channel secret, not in the URL".into(),
        ));
    }
    Ok(url)
}

/// Slack incoming webhooks live on hooks.slack.com; other hosts are accepted too (Slack-
/// compatible receivers such as Mattermost), subject to the same network checks.
pub fn is_slack_host(url: &Url) -> bool {
    url.host_str() == Some("hooks.slack.com")
}

/// Whether the address is reachable on the public internet (not loopback, private,
/// link-local, CGNAT, multicast, documentation or unspecified).
pub fn is_public_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_v4(v4);
            }
            let seg = v6.segments();
            let seg0 = seg[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (seg0 & 0xfe00) == 0xfc00 // unique local
                || (seg0 & 0xffc0) == 0xfe80 // link-local
                || (seg0 & 0xffc0) == 0xfec0 // deprecated site-local
                || seg0 == 0x2001 && seg[1] == 0x0db8 // documentation
                || seg0 == 0x2002 // 6to4: embeds any IPv4 address
                || seg[..6] == [0x64, 0xff9b, 0, 0, 0, 0] // NAT64: embeds any IPv4 address
                || seg0 == 0x64 && seg[1] == 0xff9b && seg[2] == 1 // local-use NAT64
                || seg[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible (deprecated)
                || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0))
        }
    }
}

fn is_public_v4(v4: Ipv4Addr) -> bool {
    let [a, b, _, _] = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_multicast()
        || v4.is_documentation()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // CGNAT
        || (a == 192 && b == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240)
}

/// Every resolved address must be public unless private targets are allowed.
pub fn check_addresses(addrs: &[IpAddr], allow_private: bool) -> Result<(), ChannelError> {
    if addrs.is_empty() {
        return Err(ChannelError::Unresolvable);
    }
    if allow_private {
        return Ok(());
    }
    match addrs.iter().find(|ip| !is_public_ip(**ip)) {
        Some(_) => Err(ChannelError::PrivateTarget),
        None => Ok(()),
    }
}

/// Resolves the URL's host (blocking DNS) and checks every address. Returns the
/// addresses so the sender connects to exactly what was checked (no DNS rebinding
/// between check and connect).
pub fn resolve_checked(
    url: &Url,
    allow_private: bool,
) -> Result<Vec<std::net::SocketAddr>, ChannelError> {
    let host = url.host_str().ok_or(ChannelError::Unresolvable)?;
    let port = url.port_or_known_default().unwrap_or(443);
    resolve_all_checked(host, port, allow_private)
}

/// Resolves `host` (a name, an IPv4 address or a bracketed IPv6 one) at `port` and checks
/// every address it gives (`check_addresses`): the one SSRF gate of webhooks and SMTP.
fn resolve_all_checked(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<std::net::SocketAddr>, ChannelError> {
    use std::net::ToSocketAddrs;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<std::net::SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|_| ChannelError::Unresolvable)?
        .collect();
    let ips: Vec<IpAddr> = addrs.iter().map(|a| a.ip()).collect();
    check_addresses(&ips, allow_private)?;
    Ok(addrs)
}

/// The ports mail submission and relay use (SPEC §5); anything else makes the e-mail
/// channel a port scanner.
pub const SMTP_PORTS: [u16; 4] = [25, 465, 587, 2525];

/// The SMTP target under the webhook policy: an allowed port, every resolved address
/// public (both lifted by `PAYERWATCH_ALLOW_PRIVATE_WEBHOOKS`). Blocking DNS; the sender
/// connects to the returned addresses only.
pub fn resolve_smtp_checked(
    host: &str,
    port: u16,
    allow_private: bool,
) -> Result<Vec<std::net::SocketAddr>, ChannelError> {
    if !allow_private && !SMTP_PORTS.contains(&port) {
        return Err(ChannelError::SmtpPort);
    }
    resolve_all_checked(host.trim(), port, allow_private)
}

/// The port an SMTP channel uses: its own, else the TLS mode's standard one.
pub fn smtp_port(port: Option<u16>, tls: SmtpTls) -> u16 {
    port.unwrap_or(match tls {
        SmtpTls::Tls => 465,
        SmtpTls::Starttls => 587,
        SmtpTls::None => 25,
    })
}

/// A comma- or newline-separated list of e-mail addresses, each `local@domain.tld`.
pub fn parse_recipients(raw: &str) -> Result<Vec<String>, ChannelError> {
    let list: Vec<String> = raw
        .split([',', ';', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if list.is_empty() {
        return Err(ChannelError::Invalid("give at least one recipient".into()));
    }
    if list.len() > 50 {
        return Err(ChannelError::Invalid("at most 50 recipients".into()));
    }
    for (i, addr) in list.iter().enumerate() {
        if !is_email(addr) {
            return Err(ChannelError::Invalid(format!(
                "recipient {} is not an e-mail address",
                i + 1
            )));
        }
    }
    Ok(list)
}

/// A host name or address for SMTP: letters, digits, dots, dashes, colons (IPv6).
pub fn is_host(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for s in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "64:ff9b:1::a00:1",
            "2002:7f00:1::1",
            "::127.0.0.1",
            "fec0::1",
        ] {
            assert!(!is_public_ip(ip(s)), "{s}");
        }
        for s in [
            "8.8.8.8",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(is_public_ip(ip(s)), "{s}");
        }
    }

    #[test]
    fn private_targets_refused_unless_allowed() {
        let local = [ip("127.0.0.1")];
        let refused = check_addresses(&local, false);
        assert_eq!(refused, Err(ChannelError::PrivateTarget));
        assert!(!refused.expect_err("refused").to_string().contains("127"));
        assert!(check_addresses(&local, true).is_ok());
        // One private address among public ones is enough to refuse.
        assert!(check_addresses(&[ip("8.8.8.8"), ip("10.0.0.1")], false).is_err());
        assert_eq!(check_addresses(&[], true), Err(ChannelError::Unresolvable));
    }

    #[test]
    fn loopback_names_resolve_and_are_refused() {
        let url = parse_target_url("http://localhost:9/hook").expect("url");
        assert!(matches!(
            resolve_checked(&url, false),
            Err(ChannelError::PrivateTarget)
        ));
        assert!(resolve_checked(&url, true).is_ok());
        let v6 = parse_target_url("http://[::1]:9/hook").expect("url");
        assert!(resolve_checked(&v6, false).is_err());
    }

    #[test]
    fn urls_must_be_http_with_a_host_and_no_credentials() {
        assert!(parse_target_url("https://example.org/hook").is_ok());
        for bad in [
            "ftp://example.org/x",
            "file:///etc/passwd",
            "gopher://x",
            "not a url",
            "https://user:pw@example.org/",
            "javascript:alert(1)",
        ] {
            assert!(parse_target_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn recipients_are_checked_without_echoing_them() {
        assert_eq!(
            parse_recipients("a@x.org, b@y.org\nc@z.io")
                .expect("ok")
                .len(),
            3
        );
        let err = parse_recipients("ops@x.org, not-an-address").expect_err("bad");
        assert_eq!(err.to_string(), "recipient 2 is not an e-mail address");
        assert!(parse_recipients("  ").is_err());
    }

    #[test]
    fn schemes_and_tls_modes_parse() {
        assert_eq!(
            SignatureScheme::parse("legacy-hex"),
            Some(SignatureScheme::LegacyHex)
        );
        assert_eq!(SignatureScheme::parse("md5"), None);
        assert_eq!(SmtpTls::parse("tls"), Some(SmtpTls::Tls));
        assert_eq!(SmtpTls::parse("ssl3"), None);
        assert!(is_host("smtp.example.org") && !is_host("smtp example"));
    }

    #[test]
    fn smtp_targets_follow_the_webhook_policy() {
        assert_eq!(
            resolve_smtp_checked("localhost", 2525, false),
            Err(ChannelError::PrivateTarget)
        );
        assert_eq!(
            resolve_smtp_checked("127.0.0.1", 22, false),
            Err(ChannelError::SmtpPort)
        );
        assert!(resolve_smtp_checked("127.0.0.1", 2526, true).is_ok());
        assert_eq!(smtp_port(None, SmtpTls::Tls), 465);
        assert_eq!(smtp_port(Some(2525), SmtpTls::None), 2525);
    }
}
