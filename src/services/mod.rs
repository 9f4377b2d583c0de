//! Application services: the one path each use case takes, whoever calls it (web, CLI, API).

pub mod analytics;
pub mod uploads;
