//! Webhook signatures. PayerWatch scheme: `X-PayerWatch-Signature: t=<unix>,v1=<hex>`
//! with `hex = HMAC-SHA256(secret, "<t>.<raw body>")`; receivers reject timestamps more
//! than 300 s from their clock, which stops replays. Legacy scheme (per channel, for
//! receivers built for the old system): `X-Signature` = hex HMAC-SHA256 of the body,
//! the body being compact JSON with sorted keys. The legacy header has no timestamp, so
//! a captured request could be replayed (issue 16 row 21); the signed body carries
//! `sent_at` (the attempt's time) and `delivery_id`, so a legacy receiver rejects
//! replays the same way — [`verify_legacy`] is that check, deprecated scheme and all.

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

/// What a `legacy-hex` receiver should do: compare the body's HMAC in constant time,
/// then reject a body whose signed `sent_at` is more than [`TOLERANCE_SECS`] from its
/// clock (and, as for every scheme, skip a `delivery_id` it has already processed).
/// Existing receivers that only compare the HMAC keep working; this closes the replay
/// window for those that add the time check.
pub fn verify_legacy(
    secret: &[u8],
    signature_hex: &str,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let signature = hex::decode(signature_hex.trim()).map_err(|_| VerifyError::Malformed)?;
    let mut m = mac(secret);
    m.update(body);
    m.verify_slice(&signature)
        .map_err(|_| VerifyError::Mismatch)?;
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| VerifyError::Malformed)?;
    let sent_at = value
        .get("sent_at")
        .and_then(serde_json::Value::as_str)
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .ok_or(VerifyError::Malformed)?;
    if (now - sent_at.timestamp()).abs() > TOLERANCE_SECS {
        return Err(VerifyError::Stale);
    }
    Ok(())
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
    fn legacy_bodies_carry_their_time_so_replays_are_refused() {
        let body = br#"{"delivery_id":7,"event_type":"test","sent_at":"2023-11-14T22:13:20Z"}"#;
        let sent = 1_700_000_000;
        let sig = sign_legacy(b"s3cret", body);
        assert_eq!(verify_legacy(b"s3cret", &sig, body, sent + 299), Ok(()));
        assert_eq!(
            verify_legacy(b"s3cret", &sig, body, sent + 301),
            Err(VerifyError::Stale),
            "the same request replayed later"
        );
        assert_eq!(
            verify_legacy(b"other", &sig, body, sent),
            Err(VerifyError::Mismatch)
        );
        let moved = br#"{"delivery_id":7,"event_type":"test","sent_at":"2023-11-14T22:20:00Z"}"#;
        assert_eq!(
            verify_legacy(b"s3cret", &sig, moved, sent + 400),
            Err(VerifyError::Mismatch),
            "a replayer cannot move the signed time"
        );
        let untimed = br#"{"event_type":"test"}"#;
        assert_eq!(
            verify_legacy(b"s3cret", &sign_legacy(b"s3cret", untimed), untimed, sent),
            Err(VerifyError::Malformed)
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
