//! PayerWatch: payer behaviour drift detection for healthcare billing teams.

pub mod allocator;
pub mod cli;
pub mod config;
pub mod db;
pub mod devtools;
pub mod domain;
pub mod error_chain;
pub mod ingest;
pub mod jobs;
pub mod notify;
pub mod observability;
pub mod services;
pub mod startup;
pub mod telemetry;
pub mod web;

/// This build's version (pages, metrics, error reports).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
