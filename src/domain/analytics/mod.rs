//! The decision rules of the three analytics products — DriftWatch (`drift`), DenialScope
//! (`denials`), DelayGuard (`delays`, `trend`) — in both modes: `sound` (tests, BH-FDR,
//! effect floors, intervals) and `compat` (the replaced system's rules, f64 arithmetic in the
//! same order, bit for bit). Inputs are already-aggregated counts and day histograms; outputs
//! are `Finding`s ready to be stored as events with their evidence.
//!
//! Not here: SQL aggregation, persistence across runs (continuing events), alerts. Windows
//! (`windows`) are computed here so the aggregation and the rules agree on them.

pub mod chart;
pub mod daily_trend;
pub mod delays;
pub mod denials;
pub mod drift;
mod finding;
pub mod grouping;
pub mod impact;
mod legacy;
pub mod trend;
pub mod windows;

pub use finding::{
    BucketDate, Direction, DollarRule, Evidence, Finding, FindingKind, InsufficientGroup, Mode,
    Product, RunOutcome, TrendRule, ValueUnit,
};
