//! Personal API token format: `pw_` + 43 base62 characters (32 random bytes) + a 6
//! character base62 checksum of that body. The checksum lets secret scanners (and our
//! own authentication, before any database work) recognise a PayerWatch token and tell a
//! typo from a guess. Only the SHA-256 of the whole token is ever stored.

use sha2::{Digest, Sha256};

pub const PREFIX: &str = "pw_";
const BODY_LEN: usize = 43;
const CHECK_LEN: usize = 6;
/// Characters of the token shown on the tokens page to tell tokens apart.
pub const DISPLAY_LEN: usize = 10;
pub const TOKEN_LEN: usize = PREFIX.len() + BODY_LEN + CHECK_LEN;

/// Default and longest lifetime (issue 18: 90 days by default, at most a year).
pub const DEFAULT_DAYS: i64 = 90;
pub const MAX_DAYS: i64 = 366;

const ALPHABET: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Fixed-width base62 of a big-endian number (`width` digits, zero-padded).
fn base62(bytes: &[u8], width: usize) -> String {
    let mut num: Vec<u8> = bytes.to_vec();
    let mut digits = Vec::with_capacity(width);
    for _ in 0..width {
        // num /= 62, remainder is the next digit (least significant first).
        let mut rem: u32 = 0;
        for b in num.iter_mut() {
            let acc = (rem << 8) | u32::from(*b);
            *b = (acc / 62) as u8;
            rem = acc % 62;
        }
        digits.push(ALPHABET[rem as usize]);
    }
    digits.reverse();
    String::from_utf8(digits).unwrap_or_default()
}

fn checksum(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    base62(&digest[..4], CHECK_LEN)
}

/// The token for 32 random bytes (the caller supplies the randomness).
pub fn format(random: &[u8; 32]) -> String {
    let body = base62(random, BODY_LEN);
    let check = checksum(&body);
    format!("{PREFIX}{body}{check}")
}

/// True when `token` has the shape and a correct checksum (not that it exists).
pub fn well_formed(token: &str) -> bool {
    if token.len() != TOKEN_LEN || !token.starts_with(PREFIX) {
        return false;
    }
    let rest = &token[PREFIX.len()..];
    if !rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return false;
    }
    let (body, check) = rest.split_at(BODY_LEN);
    checksum(body) == check
}

/// What is stored: lowercase hex SHA-256 of the token.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The start of the token, safe to show (it carries < 7 random characters).
pub fn display_prefix(token: &str) -> String {
    token.chars().take(DISPLAY_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_recognises_tokens() {
        let t = format(&[7u8; 32]);
        assert_eq!(t.len(), TOKEN_LEN);
        assert!(t.starts_with("pw_"));
        assert!(well_formed(&t));
        // One changed character breaks the checksum.
        let mut bad: Vec<u8> = t.clone().into_bytes();
        bad[10] = if bad[10] == b'a' { b'b' } else { b'a' };
        assert!(!well_formed(&String::from_utf8(bad).expect("ascii")));
        assert!(!well_formed("pw_short"));
        assert!(!well_formed(&t.replace("pw_", "xx_")));
        assert_ne!(format(&[0u8; 32]), format(&[255u8; 32]));
        assert_eq!(hash(&t).len(), 64);
        assert_eq!(display_prefix(&t).len(), DISPLAY_LEN);
    }

    #[test]
    fn base62_is_fixed_width_and_exact() {
        assert_eq!(base62(&[0, 61], 3), "00z");
        assert_eq!(base62(&[0, 62], 3), "010");
        assert_eq!(base62(&[255u8; 32], BODY_LEN).len(), BODY_LEN);
    }
}
