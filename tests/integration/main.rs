//! Integration tests: each test spawns the real application on a random port against a
//! fresh database — a temporary SQLite file, or a new PostgreSQL database when
//! `PAYERWATCH_TEST_POSTGRES` is set.

mod abuse;
mod accounts;
mod alert_workflow;
mod alerts;
mod analytics;
mod api;
mod audited_writes;
mod common;
mod demo;
mod drilldown;
mod durable;
mod exports;
mod foundation;
mod ingest;
mod invitations;
mod mapping_edits;
mod mapping_files;
mod notifications;
mod observability;
mod ops_pages;
mod page_caches;
mod partitions;
mod payer_merges;
mod receivers;
mod role_links;
mod rollups;
mod rule_edits;
mod rules_tenancy;
mod scorecard;
mod settings_sentences;
mod staff;
mod throttle;
mod uploads;
mod x12;
