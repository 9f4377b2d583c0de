//! In-process cache of payer scorecard figures (`services::scorecard::FiguresCache`): at
//! 10M claims computing them decodes a year of every payer's daily rollups (~100-150 ms).
//! An entry is valid for one rollup version of its tenant (`repo::rollups::version`),
//! which every upload, delete, re-map, reversal and rebuild moves on in its transaction.
//! The findings and alerts a scorecard lists are not cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::services::scorecard::{FiguresCache, ScorecardFigures};

/// A bound on memory (an entry is a few KB), not on hits.
const MAX_ENTRIES: usize = 2_000;

/// (customer id, payer) -> (rollup version, figures).
type Entries = HashMap<(i64, String), (i64, Arc<ScorecardFigures>)>;

#[derive(Default)]
pub struct ScorecardCache {
    entries: Mutex<Entries>,
}

impl FiguresCache for ScorecardCache {
    fn get(&self, customer_id: i64, payer: &str, version: i64) -> Option<Arc<ScorecardFigures>> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(customer_id, payer.to_string()))
            .filter(|(v, _)| *v == version)
            .map(|(_, figures)| Arc::clone(figures))
    }

    fn put(&self, customer_id: i64, payer: &str, version: i64, figures: Arc<ScorecardFigures>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((customer_id, payer.to_string()), (version, figures));
    }
}
