//! In-process caches of derived page data, invalidated by the writes that change them.

pub mod charts;
pub mod facets;
pub mod pages;
pub mod scorecards;
