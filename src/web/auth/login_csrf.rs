//! CSRF tokens for the anonymous forms (sign-in, set-password) without a server-side row
//! (issue 16 row 17: every cookie-less `GET /login` used to insert a `sessions` row just
//! to hold its token).
//!
//! Signed double submit: the browser gets a random nonce in a cookie of its own
//! (`HttpOnly`, `SameSite=Lax`, `__Host-` in production so a sibling host cannot plant
//! one), the form carries `HMAC(key, nonce)`. Another site can neither read the cookie
//! nor compute the MAC, so it cannot forge a matching pair; the server keeps nothing.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::random_token;
use crate::web::errors::AppError;

/// Cookie names; production uses the `__Host-` prefix (Secure, Path=/, no Domain).
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-payerwatch_login"
    } else {
        "payerwatch_login"
    }
}

/// The key behind the anonymous forms' tokens, derived from the instance secret.
pub struct LoginCsrf {
    key: [u8; 32],
    secure: bool,
}

/// What a login form needs: the token to render, and a cookie to set when the visitor
/// had no (valid) nonce yet.
pub struct Issued {
    pub token: String,
    pub cookie: Option<Cookie<'static>>,
}

impl LoginCsrf {
    pub fn new(instance_secret: &[u8], secure: bool) -> Self {
        // A key of its own, so a token never doubles as any other MAC made with the secret.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(instance_secret)
            .expect("HMAC takes keys of any length");
        mac.update(b"payerwatch login-csrf key v1");
        LoginCsrf {
            key: mac.finalize().into_bytes().into(),
            secure,
        }
    }

    fn token_for(&self, nonce: &str) -> String {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.key).expect("HMAC takes 32-byte keys");
        mac.update(nonce.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The request's nonce, when it carries a well-formed one (64 hex digits).
    pub fn nonce(&self, req: &HttpRequest) -> Option<String> {
        let value = req.cookie(cookie_name(self.secure))?.value().to_string();
        (value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit())).then_some(value)
    }

    /// The token for this visitor's form; a new nonce (and its cookie) when there is none.
    pub fn issue(&self, req: &HttpRequest) -> Result<Issued, AppError> {
        if let Some(nonce) = self.nonce(req) {
            return Ok(Issued {
                token: self.token_for(&nonce),
                cookie: None,
            });
        }
        let nonce = random_token()?;
        let cookie = Cookie::build(cookie_name(self.secure), nonce.clone())
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish();
        Ok(Issued {
            token: self.token_for(&nonce),
            cookie: Some(cookie),
        })
    }

    /// Whether `submitted` is the MAC of the nonce this request's cookie carries.
    pub fn verify(&self, nonce: Option<&str>, submitted: &str) -> bool {
        let Some(nonce) = nonce else {
            return false;
        };
        let expected = self.token_for(nonce);
        bool::from(submitted.as_bytes().ct_eq(expected.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_matches_only_its_own_nonce_and_key() {
        let a = LoginCsrf::new(b"secret one", false);
        let b = LoginCsrf::new(b"secret two", false);
        let nonce = "ab".repeat(32);
        let token = a.token_for(&nonce);
        assert!(a.verify(Some(&nonce), &token));
        assert!(!a.verify(Some(&"cd".repeat(32)), &token), "other nonce");
        assert!(!b.verify(Some(&nonce), &token), "other key");
        assert!(!a.verify(None, &token), "no cookie");
        assert!(!a.verify(Some(&nonce), ""), "no token");
    }
}
