//! In-process cache of rendered finding charts. A chart depends on the event (immutable)
//! and on the tenant's daily rollups, which change with uploads, deletes, re-maps and
//! reversals (a re-map is not followed by a run), so the generation is (the tenant's
//! latest run id, its rollup version — `repo::rollups::version`).
//! Hit and miss counts feed the staff metrics dashboard.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

const MAX_ENTRIES: usize = 5_000;

use crate::db::repo::analytics::DriftEvent;
use crate::services::analytics::charts::ChartSeries;
/// (newest run id, rollup version).
pub use crate::services::findings::ChartGeneration as Generation;
use crate::services::findings::Charts;

#[derive(Default)]
pub struct ChartCache {
    entries: Mutex<HashMap<(i64, Generation), String>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ChartCache {
    pub fn get(&self, event_id: i64, generation: Generation) -> Option<String> {
        let found = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(event_id, generation))
            .cloned();
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    pub fn put(&self, event_id: i64, generation: Generation, svg: String) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            // Old generations are dead weight; a full reset is simplest and rare.
            entries.clear();
        }
        entries.insert((event_id, generation), svg);
    }

    /// (hits, misses) since start.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }
}

impl Charts for ChartCache {
    fn get(&self, event_id: i64, generation: Generation) -> Option<String> {
        ChartCache::get(self, event_id, generation)
    }

    fn put(&self, event_id: i64, generation: Generation, svg: String) {
        ChartCache::put(self, event_id, generation, svg);
    }

    fn draw(&self, event: &DriftEvent, series: &ChartSeries) -> String {
        crate::web::handlers::findings::view::chart_svg(event, series)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hits_and_misses_and_keys_by_generation() {
        let cache = ChartCache::default();
        assert!(cache.get(1, (10, 3)).is_none());
        cache.put(1, (10, 3), "<svg/>".into());
        assert_eq!(cache.get(1, (10, 3)).as_deref(), Some("<svg/>"));
        assert!(cache.get(1, (11, 3)).is_none(), "a new run invalidates");
        assert!(
            cache.get(1, (10, 4)).is_none(),
            "a rollup change invalidates"
        );
        assert_eq!(cache.stats(), (1, 3));
    }
}
