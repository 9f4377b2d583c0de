//! Application services: the one path each use case takes, whoever calls it (web, CLI, API).

pub mod accounts;
pub mod alerts;
pub mod analytics;
pub mod api_tokens;
pub mod auth;
pub mod channels;
pub mod digests;
pub mod drilldown;
pub mod mappings;
pub mod password_gate;
pub mod retention;
pub mod rollups;
pub mod rules;
pub mod saved_filters;
pub mod scorecard;
pub mod uploads;
