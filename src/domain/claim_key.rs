//! Keyed claim references: an 835 reversal (CLP02 = 22) names the claim it reverses by
//! the patient control number (CLP01) and the payer's claim number (CLP07). Both are
//! patient identifiers and are never stored; what is stored is a keyed HMAC of them, so
//! a later reversal can find the claim while a database dump alone reveals nothing and
//! cannot be matched against guessed numbers without the instance secret.
//!
//! Keys: instance secret → (HMAC-SHA256, context) → base key → (HMAC, tenant id) →
//! tenant key → (HMAC, payer + CLP01 + CLP07) → the first 8 bytes as a signed 64-bit
//! number (`claim_records.claim_key`). Per tenant: the same claim numbers give unrelated
//! keys in two tenants. Rotating the instance secret breaks matching to earlier uploads
//! (docs/x12-835.md).

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const CONTEXT: &[u8] = b"payerwatch 835 claim key v1";

fn mac(key: &[u8]) -> HmacSha256 {
    <HmacSha256 as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"))
}

/// The instance's base key for claim references (derived once at start).
#[derive(Clone)]
pub struct ClaimKeys {
    base: [u8; 32],
}

impl std::fmt::Debug for ClaimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClaimKeys(..)")
    }
}

impl ClaimKeys {
    pub fn from_instance_secret(secret: &[u8]) -> ClaimKeys {
        let mut m = mac(secret);
        m.update(CONTEXT);
        ClaimKeys {
            base: m.finalize().into_bytes().into(),
        }
    }

    /// The key of one tenant's claims.
    pub fn for_tenant(&self, tenant_id: i64) -> TenantClaimKeys {
        let mut m = mac(&self.base);
        m.update(&tenant_id.to_be_bytes());
        TenantClaimKeys {
            mac: mac(&m.finalize().into_bytes()),
        }
    }
}

/// A tenant's keyed MAC, ready to key claims (cloned per claim: the key schedule is
/// done once).
#[derive(Clone)]
pub struct TenantClaimKeys {
    mac: HmacSha256,
}

impl std::fmt::Debug for TenantClaimKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TenantClaimKeys(..)")
    }
}

impl TenantClaimKeys {
    /// The key of a claim: payer (its 835 payer id, else its name), patient control
    /// number, payer claim number. Surrounding blanks and letter case do not matter.
    /// `None` when both numbers are empty (nothing identifies the claim).
    pub fn key(&self, payer: &str, patient_control: &str, payer_claim: &str) -> Option<i64> {
        let (pcn, pcl) = (patient_control.trim(), payer_claim.trim());
        if pcn.is_empty() && pcl.is_empty() {
            return None;
        }
        let mut m = self.mac.clone();
        // Length-prefixed parts: ("AB", "C") and ("A", "BC") differ.
        for part in [payer.trim(), pcn, pcl] {
            m.update(&(part.len() as u32).to_be_bytes());
            for chunk in part.as_bytes().chunks(64) {
                let mut upper = [0u8; 64];
                let upper = &mut upper[..chunk.len()];
                upper.copy_from_slice(chunk);
                upper.make_ascii_uppercase();
                m.update(upper);
            }
        }
        let out = m.finalize().into_bytes();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        Some(i64::from_be_bytes(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_secret_tenant_and_every_part() {
        let keys = ClaimKeys::from_instance_secret(b"instance secret");
        let t1 = keys.for_tenant(1);
        let k = t1.key("87726", "PCN1", "ICN1").expect("key");
        assert_eq!(t1.key(" 87726 ", "pcn1", "icn1 "), Some(k));
        assert_ne!(t1.key("87726", "PCN1", "ICN2"), Some(k));
        assert_ne!(t1.key("87726", "PCN2", "ICN1"), Some(k));
        assert_ne!(t1.key("60054", "PCN1", "ICN1"), Some(k));
        assert_ne!(t1.key("87726", "PCN1I", "CN1"), Some(k));
        assert_ne!(keys.for_tenant(2).key("87726", "PCN1", "ICN1"), Some(k));
        let other = ClaimKeys::from_instance_secret(b"another secret");
        assert_ne!(other.for_tenant(1).key("87726", "PCN1", "ICN1"), Some(k));
        assert_eq!(t1.key("87726", " ", ""), None);
        assert!(!format!("{keys:?}{t1:?}").contains("secret"));
    }
}
