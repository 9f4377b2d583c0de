//! Operator pages (`/portal/admin/*`).

pub mod metrics;
