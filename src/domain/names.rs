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

/// The variant of `all` whose stored name (`as_str`) is `s`, blanks around it ignored: how a
/// domain enum reads back the names it writes, so each name is spelled once (in `as_str`).
pub fn parse_name<T: Copy>(
    what: &'static str,
    all: &[T],
    as_str: fn(T) -> &'static str,
    s: &str,
) -> Result<T, UnknownName> {
    let wanted = s.trim();
    all.iter()
        .copied()
        .find(|&v| as_str(v) == wanted)
        .ok_or_else(|| UnknownName::new(what, s))
}

/// `impl FromStr` for a domain enum that lists its variants in `ALL` and names them in
/// `as_str`, by [`parse_name`]: `from_stored_name!(Mode, "mode");`.
macro_rules! from_stored_name {
    ($ty:ty, $what:literal) => {
        impl std::str::FromStr for $ty {
            type Err = $crate::domain::names::UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $crate::domain::names::parse_name($what, &Self::ALL, Self::as_str, s)
            }
        }
    };
}
pub(crate) use from_stored_name;
