//! The one e-mail address check, for user accounts and notification recipients alike.

/// A plausible address: `local@domain.tld`, at most 254 characters, nothing that would
/// break a header or a list (white space, control characters, `<`, `>`, `,`, `"`).
pub fn is_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | '"'))
}

#[cfg(test)]
mod tests {
    use super::is_email;

    #[test]
    fn plausible_addresses_pass_and_header_breakers_do_not() {
        assert!(is_email("ops@clinic.test"));
        for bad in [
            "",
            "ops",
            "@clinic.test",
            "ops@clinic",
            "ops@.test",
            "ops@clinic.",
            "a b@c.de",
            "a@b@c.de",
            "<a@b.de>",
            "a,b@c.de",
            "a\"@b.de",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
        assert!(!is_email(&format!("{}@b.de", "a".repeat(250))));
    }
}
