//! In-process cache of what a findings page derives from the tenant's runs and events
//! but not from its filters: the payer and group drop-downs and the product's last run.
//! Events are written only when a run finishes, so the key is the tenant, the product
//! and the run generation (`repo::analytics::run_generation`), which moves on every start
//! and finish — a stale entry is never served, it is just never asked for again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::db::repo::analytics::ReportRun;

const MAX_ENTRIES: usize = 5_000;

/// The filter-independent part of a findings page.
#[derive(Debug, Clone)]
pub struct Facets {
    pub payers: Vec<String>,
    pub groups: Vec<String>,
    pub last_run: Option<ReportRun>,
}

/// (customer id, product).
type Key = (i64, &'static str);
/// `repo::analytics::run_generation`.
type Generation = (i64, i64);

#[derive(Default)]
pub struct FacetCache {
    entries: Mutex<HashMap<Key, (Generation, Arc<Facets>)>>,
}

impl FacetCache {
    pub fn get(
        &self,
        customer_id: i64,
        product: &'static str,
        generation: Generation,
    ) -> Option<Arc<Facets>> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(customer_id, product))
            .filter(|(g, _)| *g == generation)
            .map(|(_, facets)| Arc::clone(facets))
    }

    pub fn put(
        &self,
        customer_id: i64,
        product: &'static str,
        generation: Generation,
        facets: Arc<Facets>,
    ) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((customer_id, product), (generation, facets));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_the_same_generation() {
        let cache = FacetCache::default();
        let facets = Arc::new(Facets {
            payers: vec!["Aetna".into()],
            groups: vec!["EVAL".into()],
            last_run: None,
        });
        cache.put(1, "drift_watch", (10, 3), facets);
        assert!(cache.get(1, "drift_watch", (10, 3)).is_some());
        assert!(
            cache.get(1, "drift_watch", (10, 4)).is_none(),
            "a run finished"
        );
        assert!(
            cache.get(1, "drift_watch", (11, 3)).is_none(),
            "a run started"
        );
        assert!(
            cache.get(2, "drift_watch", (10, 3)).is_none(),
            "other tenant"
        );
        assert!(
            cache.get(1, "delay_guard", (10, 3)).is_none(),
            "other product"
        );
    }
}
