//! Application services: the one path each use case takes, whoever calls it (web, CLI, API).

pub mod accounts;
pub mod analytics;
pub mod retention;
pub mod uploads;
