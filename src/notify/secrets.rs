//! Channel secrets (webhook signing secrets, Slack webhook URLs, SMTP passwords) are
//! sealed with ChaCha20-Poly1305 under a key derived from the instance secret, so a
//! database dump alone does not reveal them. The sealed form is `v1.<hex nonce>.<hex
//! ciphertext>`; the channel id is bound in as associated data, so a sealed secret copied
//! onto another channel does not open.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;

const VERSION: &str = "v1";
const CONTEXT: &[u8] = b"payerwatch channel secrets v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("the sealed secret is malformed")]
    Malformed,
    #[error("the sealed secret does not open with this instance's key")]
    WrongKey,
    #[error("no randomness available")]
    Random,
}

#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// Derives the sealing key from the instance secret (HMAC-SHA256 as a KDF: the
    /// instance secret is already high-entropy).
    pub fn from_instance_secret(secret: &[u8]) -> Self {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        mac.update(CONTEXT);
        let key = mac.finalize().into_bytes();
        SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key)),
        }
    }

    pub fn seal(&self, channel_id: i64, plaintext: &str) -> Result<String, SecretError> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|_| SecretError::Random)?;
        let aad = channel_id.to_be_bytes();
        let sealed = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext.as_bytes(),
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::Malformed)?;
        Ok(format!(
            "{VERSION}.{}.{}",
            hex::encode(nonce),
            hex::encode(sealed)
        ))
    }

    pub fn open(&self, channel_id: i64, sealed: &str) -> Result<String, SecretError> {
        let mut parts = sealed.split('.');
        let (Some(VERSION), Some(nonce), Some(body), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SecretError::Malformed);
        };
        let nonce = hex::decode(nonce).map_err(|_| SecretError::Malformed)?;
        let body = hex::decode(body).map_err(|_| SecretError::Malformed)?;
        if nonce.len() != 12 {
            return Err(SecretError::Malformed);
        }
        let aad = channel_id.to_be_bytes();
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &body,
                    aad: &aad,
                },
            )
            .map_err(|_| SecretError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| SecretError::Malformed)
    }
}

/// A new webhook signing secret: 32 random bytes, hex, with a recognisable prefix.
pub fn new_webhook_secret() -> Result<String, SecretError> {
    let mut raw = [0u8; 32];
    getrandom::fill(&mut raw).map_err(|_| SecretError::Random)?;
    Ok(format!("whsec_{}", hex::encode(raw)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seals_and_opens() {
        let b = SecretBox::from_instance_secret(b"instance-secret");
        let sealed = b.seal(7, "whsec_abc").expect("seal");
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(b.open(7, &sealed).expect("open"), "whsec_abc");
    }

    #[test]
    fn refuses_another_channel_or_key() {
        let b = SecretBox::from_instance_secret(b"instance-secret");
        let sealed = b.seal(7, "s").expect("seal");
        assert_eq!(b.open(8, &sealed), Err(SecretError::WrongKey));
        let other = SecretBox::from_instance_secret(b"another-secret");
        assert_eq!(other.open(7, &sealed), Err(SecretError::WrongKey));
        assert_eq!(b.open(7, "v1.zz.zz"), Err(SecretError::Malformed));
        assert_eq!(b.open(7, "plain"), Err(SecretError::Malformed));
    }

    #[test]
    fn nonces_differ() {
        let b = SecretBox::from_instance_secret(b"k");
        assert_ne!(b.seal(1, "x").expect("a"), b.seal(1, "x").expect("b"));
    }

    #[test]
    fn webhook_secrets_are_long_and_fresh() {
        let a = new_webhook_secret().expect("a");
        assert!(a.starts_with("whsec_") && a.len() == 70);
        assert_ne!(a, new_webhook_secret().expect("b"));
    }
}
