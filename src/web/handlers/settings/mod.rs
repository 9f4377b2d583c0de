//! The settings pages (`/portal/settings/*`), one module per page, as in `templates/settings/`.

pub mod analytics;
pub mod audit;
pub mod channels;
pub mod mappings;
pub mod rules;
pub mod tokens;
pub mod users;
