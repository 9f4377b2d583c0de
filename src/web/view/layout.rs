//! The page frame every template extends: title, signed-in user and navigation,
//! flash messages, CSRF token and version.

use crate::VERSION;

#[derive(Debug, Clone)]
pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    pub active: bool,
}

#[derive(Debug, Clone)]
pub struct LayoutUser {
    pub email: String,
    pub role_label: &'static str,
    pub customer_name: String,
    pub nav: Vec<NavItem>,
}

#[derive(Debug, Clone)]
pub struct Flash {
    /// `success`, `info`, `warning` or `error` (CSS class suffix).
    pub kind: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Layout {
    pub title: String,
    pub user: Option<LayoutUser>,
    pub flashes: Vec<Flash>,
    pub csrf_token: String,
    pub version: &'static str,
}

impl Layout {
    /// A page for visitors who are not signed in (login, errors).
    pub fn public(title: impl Into<String>) -> Self {
        Layout {
            title: title.into(),
            user: None,
            flashes: Vec::new(),
            csrf_token: String::new(),
            version: VERSION,
        }
    }

    pub fn with_flash(mut self, kind: &'static str, message: impl Into<String>) -> Self {
        self.flashes.push(Flash {
            kind,
            message: message.into(),
        });
        self
    }
}
