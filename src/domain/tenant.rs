//! Tenant identity. A [`TenantScope`] is the only way to reach tenant-owned rows in the
//! repository layer, so a query that forgets its tenant does not compile.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomerId(pub i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct UserId(pub i64);

/// Proof of which customer a piece of work acts for.
///
/// Built by the web layer from an authenticated session (`from_authenticated`) or,
/// explicitly, by trusted system code: CLI commands and background jobs that were given
/// a customer id by an operator or by a row they already own (`for_system`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TenantScope {
    customer_id: CustomerId,
}

impl TenantScope {
    /// Scope of a signed-in user; only the authentication extractor calls this.
    pub fn from_authenticated(customer_id: CustomerId) -> Self {
        TenantScope { customer_id }
    }

    /// Scope chosen explicitly by trusted code (CLI, jobs, tests). Never build it from
    /// request input.
    pub fn for_system(customer_id: CustomerId) -> Self {
        TenantScope { customer_id }
    }

    pub fn customer_id(&self) -> CustomerId {
        self.customer_id
    }

    pub fn id(&self) -> i64 {
        self.customer_id.0
    }
}

/// Turns a customer name into a URL- and CLI-friendly slug: lower case ASCII letters,
/// digits and single dashes.
pub fn slugify(name: &str) -> String {
    let mut slug = String::with_capacity(name.len());
    for ch in name.trim().chars() {
        if ch.is_ascii_alphanumeric() {
            slug.push(ch.to_ascii_lowercase());
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    while slug.ends_with('-') {
        slug.pop();
    }
    slug
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugify_keeps_letters_digits_and_single_dashes() {
        assert_eq!(slugify("  Acme Billing, Inc. "), "acme-billing-inc");
        assert_eq!(slugify("demo"), "demo");
        assert_eq!(slugify("Clinic #42 -- North"), "clinic-42-north");
        assert_eq!(slugify("***"), "");
    }
}
