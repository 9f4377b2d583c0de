//! Password policy and hashing (Argon2id with the crate defaults: 19 MiB, t=2, p=1).
//!
//! Hashing is CPU-bound for tens of milliseconds: callers on the async runtime run it
//! on the blocking pool.

use std::collections::HashSet;
use std::sync::LazyLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

pub const MIN_LENGTH: usize = 12;
pub const MAX_LENGTH: usize = 128;

/// ~10,000 most common passwords (zxcvbn's frequency list, MIT), lower-cased.
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordPolicyError {
    #[error("Passwords must be at least {MIN_LENGTH} characters long.")]
    TooShort,
    #[error("Passwords must be at most {MAX_LENGTH} characters long.")]
    TooLong,
    #[error("This password is on a list of commonly used passwords; choose another.")]
    Common,
}

/// Checks the length rule (characters, not bytes) and the common-password list.
pub fn check_policy(password: &str) -> Result<(), PasswordPolicyError> {
    let length = password.chars().count();
    if length < MIN_LENGTH {
        return Err(PasswordPolicyError::TooShort);
    }
    if length > MAX_LENGTH {
        return Err(PasswordPolicyError::TooLong);
    }
    if COMMON_PASSWORDS.contains(password.to_lowercase().as_str()) {
        return Err(PasswordPolicyError::Common);
    }
    Ok(())
}

pub fn common_password_count() -> usize {
    COMMON_PASSWORDS.len()
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// Argon2id PHC string with a fresh random salt.
pub fn hash(password: &str) -> Result<String, HashError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| HashError)
}

/// True when `password` matches the PHC string. A malformed stored hash never matches.
pub fn verify(password: &str, phc: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), phc)
        .is_ok()
}

/// A valid hash of a random secret, checked when an e-mail address is unknown so that
/// failed logins cost the same time whether or not the account exists.
pub static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let mut secret = [0u8; 32];
    // Entropy failure leaves zeros: still a valid hash nobody can log in against,
    // because `verify` is only ever called on it to burn time.
    let _ = getrandom::fill(&mut secret);
    hash(&hex::encode(secret)).unwrap_or_default()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_is_large_enough() {
        assert!(common_password_count() >= 1000);
    }

    #[test]
    fn policy_rules() {
        assert_eq!(check_policy("short"), Err(PasswordPolicyError::TooShort));
        assert_eq!(
            check_policy(&"x".repeat(129)),
            Err(PasswordPolicyError::TooLong)
        );
        assert!(check_policy(&"é".repeat(12)).is_ok(), "counts characters");
        assert!(check_policy("correct horse battery staple").is_ok());
    }

    #[test]
    fn common_passwords_are_refused_case_insensitively() {
        let long_common = include_str!("common_passwords.txt")
            .lines()
            .find(|p| p.chars().count() >= MIN_LENGTH)
            .expect("list has long entries");
        assert_eq!(check_policy(long_common), Err(PasswordPolicyError::Common));
        assert_eq!(
            check_policy(&long_common.to_uppercase()),
            Err(PasswordPolicyError::Common)
        );
    }

    #[test]
    fn hash_and_verify_round_trip() {
        let phc = hash("a long enough passphrase").expect("hash");
        assert!(phc.starts_with("$argon2id$"));
        assert!(phc.contains("m=19456,t=2,p=1"));
        assert!(verify("a long enough passphrase", &phc));
        assert!(!verify("another passphrase!!", &phc));
        assert!(!verify("anything", "not a hash"));
    }
}
