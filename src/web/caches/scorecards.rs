//! In-process cache of payer scorecard figures (`services::scorecard::FiguresCache`): at
//! 10M claims computing them decodes a year of every payer's daily rollups (~100-150 ms).
//! An entry is valid for one rollup version of its tenant (`repo::rollups::version`),
//! which every upload, delete, re-map, reversal and rebuild moves on in its transaction.
//! The findings and alerts a scorecard lists are not cached.

use std::sync::Arc;

use crate::services::page_cache::PageCache;
use crate::services::scorecard::{FiguresCache, ScorecardFigures};
use crate::web::caches::pages::Pages;

/// A bound on memory (an entry is a few KB), not on hits.
const MAX_ENTRIES: usize = 2_000;

/// (customer id, payer) -> figures, by rollup version: the generation-keyed map of
/// [`Pages`].
pub struct ScorecardCache {
    entries: Pages<(i64, String), i64, ScorecardFigures>,
}

impl Default for ScorecardCache {
    fn default() -> Self {
        ScorecardCache {
            entries: Pages::new(MAX_ENTRIES),
        }
    }
}

impl FiguresCache for ScorecardCache {
    fn get(&self, customer_id: i64, payer: &str, version: i64) -> Option<Arc<ScorecardFigures>> {
        self.entries
            .get(&(customer_id, payer.to_string()), &version)
    }

    fn put(&self, customer_id: i64, payer: &str, version: i64, figures: Arc<ScorecardFigures>) {
        self.entries
            .put((customer_id, payer.to_string()), version, figures);
    }
}
