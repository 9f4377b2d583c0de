//! The client's address: the peer address, or the left-most untrusted hop of
//! `X-Forwarded-For` when the peer is a configured trusted proxy. Plus the anonymised
//! form kept in the audit trail (IPv4 → a.b.0.0, IPv6 → first 32 bits).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use actix_web::HttpRequest;
use actix_web::dev::ServiceRequest;

/// Walks `X-Forwarded-For` from the right, skipping trusted proxies; the first
/// untrusted address is the client.
pub fn resolve(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[IpAddr],
) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let Some(header) = forwarded_for else {
        return Some(peer);
    };
    let mut client = peer;
    for hop in header.rsplit(',') {
        match hop.trim().parse::<IpAddr>() {
            Ok(ip) => {
                client = ip;
                if !trusted.contains(&ip) {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    Some(client)
}

pub fn from_request(req: &HttpRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    // Every header line, in order: a proxy that appends its own line instead of extending
    // the client's would otherwise let the client's line pick the address (review
    // 2026-12, row 5). A line that is not text poisons the walk, so nothing is trusted.
    let lines: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .map(|v| v.to_str().unwrap_or("invalid"))
        .collect();
    let joined = (!lines.is_empty()).then(|| lines.join(","));
    resolve(req.peer_addr().map(|a| a.ip()), joined.as_deref(), trusted)
}

pub fn from_service_request(req: &ServiceRequest, trusted: &[IpAddr]) -> Option<IpAddr> {
    from_request(req.request(), trusted)
}

/// Anonymised address for the audit trail.
pub fn anonymize(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, _, _] = v4.octets();
            Ipv4Addr::new(a, b, 0, 0).to_string()
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return anonymize(IpAddr::V4(v4));
            }
            let s = v6.segments();
            Ipv6Addr::new(s[0], s[1], 0, 0, 0, 0, 0, 0).to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_the_header_says() {
        assert_eq!(
            resolve(Some(ip("203.0.113.9")), Some("1.2.3.4"), &[]),
            Some(ip("203.0.113.9"))
        );
    }

    #[test]
    fn trusted_proxies_yield_the_first_untrusted_hop() {
        let trusted = [ip("10.0.0.1"), ip("10.0.0.2")];
        assert_eq!(
            resolve(
                Some(ip("10.0.0.1")),
                Some("198.51.100.7, 10.0.0.2"),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        // A spoofed left-most entry does not win over the real client.
        assert_eq!(
            resolve(
                Some(ip("10.0.0.1")),
                Some("6.6.6.6, 198.51.100.7"),
                &trusted
            ),
            Some(ip("198.51.100.7"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), None, &trusted),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            resolve(Some(ip("10.0.0.1")), Some("garbage"), &trusted),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn anonymizes_both_families() {
        assert_eq!(anonymize(ip("192.168.17.42")), "192.168.0.0");
        assert_eq!(anonymize(ip("2001:db8:85a3::8a2e:370:7334")), "2001:db8::");
        assert_eq!(anonymize(ip("::ffff:10.1.2.3")), "10.1.0.0");
    }

    #[test]
    fn every_forwarded_for_line_is_read() {
        let trusted = [ip("10.0.0.1")];
        let req = actix_web::test::TestRequest::default()
            .peer_addr("10.0.0.1:4000".parse().expect("addr"))
            .append_header(("x-forwarded-for", "6.6.6.6"))
            .append_header(("x-forwarded-for", "198.51.100.7"))
            .to_http_request();
        assert_eq!(from_request(&req, &trusted), Some(ip("198.51.100.7")));
    }
}
