//! Stored and typed names that name no variant of a domain enum.

/// The text did not name any variant of `what` (a product, a finding kind, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} '{value}'")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

impl UnknownName {
    pub fn new(what: &'static str, value: &str) -> Self {
        UnknownName {
            what,
            value: value.to_string(),
        }
    }
}
