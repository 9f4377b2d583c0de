//! Login throttling policy (SPEC §6, soft lockout): which keys an attempt counts against and
//! how many failures each key may have in its window. A stranger who knows an owner's
//! e-mail can lock that e-mail out only from the stranger's own address (/64 for IPv6); the
//! account-wide limit is ten times higher and bounds distributed guessing (ASVS ≤ 100/h).

use std::net::IpAddr;

use sha2::{Digest, Sha256};

/// What a failure record counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ThrottleScope {
    /// One account from one client network.
    Pair,
    /// One client network across accounts.
    Address,
    /// One account across networks.
    Account,
}

impl ThrottleScope {
    pub fn as_str(self) -> &'static str {
        match self {
            ThrottleScope::Pair => "pair",
            ThrottleScope::Address => "address",
            ThrottleScope::Account => "account",
        }
    }
}

/// One limit: at most `max` failures per key within `window_secs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    pub scope: ThrottleScope,
    pub max: i64,
    pub window_secs: i64,
}

pub const RULES: [Rule; 3] = [
    Rule {
        scope: ThrottleScope::Pair,
        max: 5,
        window_secs: 15 * 60,
    },
    Rule {
        scope: ThrottleScope::Address,
        max: 20,
        window_secs: 15 * 60,
    },
    Rule {
        scope: ThrottleScope::Account,
        max: 50,
        window_secs: 60 * 60,
    },
];

/// The longest window: failure records older than this count for nothing.
pub const LONGEST_WINDOW_SECS: i64 = 60 * 60;

/// The hashed keys of one attempt, in `RULES` order (the raw e-mail and address are never
/// stored here).
pub fn keys(email: &str, ip: IpAddr) -> [(Rule, String); 3] {
    let net = network(ip);
    RULES.map(|rule| {
        let value = match rule.scope {
            ThrottleScope::Pair => format!("{email}|{net}"),
            ThrottleScope::Address => net.clone(),
            ThrottleScope::Account => email.to_owned(),
        };
        (rule, hash(rule.scope, &value))
    })
}

/// The account-wide key alone (cleared when an admin-issued reset link is used).
pub fn account_key(email: &str) -> String {
    hash(ThrottleScope::Account, email)
}

fn hash(scope: ThrottleScope, value: &str) -> String {
    hex::encode(Sha256::digest(
        format!("{}:{value}", scope.as_str()).as_bytes(),
    ))
}

/// The client network an address belongs to: IPv4 as is (mapped IPv6 too), IPv6 its /64,
/// since one subscriber is routinely given a whole /64.
pub fn network(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn ipv6_is_keyed_per_64() {
        assert_eq!(
            network(ip("2001:db8:1:2:aaaa::1")),
            network(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            network(ip("2001:db8:1:2::1")),
            network(ip("2001:db8:1:3::1"))
        );
        assert_eq!(network(ip("::ffff:192.0.2.7")), "192.0.2.7");
        let a = keys("a@x.test", ip("2001:db8:1:2::1"));
        let b = keys("a@x.test", ip("2001:db8:1:2::2"));
        assert_eq!(a, b);
    }

    #[test]
    fn keys_differ_per_scope_and_never_hold_the_email() {
        let k = keys("owner@clinic.test", ip("192.0.2.1"));
        assert_eq!(k.clone().map(|(r, _)| r.scope), RULES.map(|r| r.scope));
        assert!(k.iter().all(|(_, h)| h.len() == 64 && !h.contains("owner")));
        assert_eq!(k[2].1, account_key("owner@clinic.test"));
        assert_ne!(k[0].1, keys("owner@clinic.test", ip("192.0.2.2"))[0].1);
        assert_eq!(k[2].1, keys("owner@clinic.test", ip("192.0.2.2"))[2].1);
    }
}
