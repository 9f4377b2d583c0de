//! Webhook signatures. PayerWatch scheme: `X-PayerWatch-Signature: t=<unix>,v1=<hex>`
//! with `hex = HMAC-SHA256(secret, "<t>.<raw body>")`; receivers reject timestamps more
//! than 300 s from their clock, which stops replays. Legacy scheme (per channel, for
//! receivers built for the old system): `X-Signature` = hex HMAC-SHA256 of the body,
//! the body being compact JSON with sorted keys.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const HEADER: &str = "X-PayerWatch-Signature";
pub const LEGACY_HEADER: &str = "X-Signature";
pub const TOLERANCE_SECS: i64 = 300;

fn mac(secret: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length, so this cannot fail.
    <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

fn hmac_hex(secret: &[u8], parts: &[&[u8]]) -> String {
    let mut m = mac(secret);
    for part in parts {
        m.update(part);
    }
    hex::encode(m.finalize().into_bytes())
}

/// The `X-PayerWatch-Signature` value for `body` sent at `timestamp` (unix seconds).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let t = timestamp.to_string();
    format!("t={t},v1={}", hmac_hex(secret, &[t.as_bytes(), b".", body]))
}

/// The legacy `X-Signature` value.
pub fn sign_legacy(secret: &[u8], body: &[u8]) -> String {
    hmac_hex(secret, &[body])
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("malformed signature header")]
    Malformed,
    #[error("timestamp outside the tolerance")]
    Stale,
    #[error("signature does not match")]
    Mismatch,
}

/// What a receiver does: parse, check the timestamp, compare in constant time.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> Result<(), VerifyError> {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => v1 = hex::decode(value).ok(),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return Err(VerifyError::Malformed);
    };
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(VerifyError::Stale);
    }
    let mut m = mac(secret);
    m.update(t.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m.verify_slice(&v1).map_err(|_| VerifyError::Mismatch)
}

/// Compact JSON with sorted keys (serde_json's map is ordered), as the legacy scheme signs.
pub fn canonical_json(value: &serde_json::Value) -> String {
    value.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_vector_from_analytics_md() {
        let body = serde_json::json!({
            "severity": 0.8,
            "payer": "Aetna",
            "metadata": {"request_id": "00000000-0000-0000-0000-000000000001"},
            "event_type": "alert.created",
        });
        let compact = canonical_json(&body);
        assert_eq!(
            compact,
            r#"{"event_type":"alert.created","metadata":{"request_id":"00000000-0000-0000-0000-000000000001"},"payer":"Aetna","severity":0.8}"#
        );
        assert_eq!(
            sign_legacy(b"test_secret", compact.as_bytes()),
            "491cacd278f2f516367fb91278f91264ead007792c85fcf69737525143d609b6"
        );
    }

    #[test]
    fn signatures_verify_and_reject_replays_and_tampering() {
        let body = br#"{"alert_id":1}"#;
        let header = sign(b"s3cret", 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(verify(b"s3cret", &header, body, 1_700_000_100), Ok(()));
        assert_eq!(
            verify(b"s3cret", &header, body, 1_700_000_301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            verify(b"other", &header, body, 1_700_000_000),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", &header, br#"{"alert_id":2}"#, 1_700_000_000),
            Err(VerifyError::Mismatch)
        );
        assert_eq!(
            verify(b"s3cret", "v1=abc", body, 1_700_000_000),
            Err(VerifyError::Malformed)
        );
    }
}
