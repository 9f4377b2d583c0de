//! The session-state keys (see the module doc of `web::auth`).

/// The signed-in user's id.
pub const USER_ID_KEY: &str = "user_id";
/// Unix time of sign-in, in milliseconds.
pub const LOGIN_AT_KEY: &str = "login_at";
pub const CSRF_KEY: &str = "csrf";
pub const FLASH_KEY: &str = "flash";
/// State that must never survive into a session the user did not sign in to.
pub const AUTH_STATE_KEYS: &[&str] = &[USER_ID_KEY, LOGIN_AT_KEY, CSRF_KEY];
