//! Links to pages named by a value rather than an id. Every payer name on every page links
//! its scorecard through [`payer_href`], so the encoding is written once.

/// `/portal/payers/{payer}` (SPEC §10: the URL-encoded display name). Everything but
/// RFC 3986 unreserved characters is percent-encoded — `/` too, so a payer named
/// "Blue Cross / Blue Shield" stays one path segment.
pub fn payer_href(payer: &str) -> String {
    let mut out = String::from("/portal/payers/");
    for b in payer.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::payer_href;

    #[test]
    fn a_payer_name_is_one_encoded_path_segment() {
        assert_eq!(payer_href("Cigna"), "/portal/payers/Cigna");
        assert_eq!(
            payer_href("Blue Cross / Blue Shield"),
            "/portal/payers/Blue%20Cross%20%2F%20Blue%20Shield"
        );
        assert_eq!(payer_href("=A&B?#"), "/portal/payers/%3DA%26B%3F%23");
        assert_eq!(payer_href("Aetna é"), "/portal/payers/Aetna%20%C3%A9");
    }
}
