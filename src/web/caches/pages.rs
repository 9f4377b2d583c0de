//! In-process caches of page data (`services::page_cache::PageCache`): the payer list per
//! rollup version, a scorecard per (run generation, rollup version, alert version), the
//! alert list and an alert's page per alert version (and the day: "overdue"). One entry
//! per key, replaced when its generation moves on.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use crate::db::repo::page_versions::Versions;
use crate::db::repo::saved_filters::SavedFilter;
use crate::services::alerts::{DetailGeneration, DetailKey, ListGeneration, ListKey, SavedKey};
use crate::services::page_cache::PageCache;
use crate::web::handlers::alerts::{AlertListData, AlertPageData};
use crate::web::handlers::payers::{PayerList, ScorecardData};

/// Pages are 5-25 KB of formatted data each: bounds on memory, not on hits.
const MAX_PAGES: usize = 512;
const MAX_SMALL: usize = 5_000;

/// Every cached page kind, as `AppState` holds them.
pub struct PageCaches {
    /// The payer list per tenant, by rollup version.
    pub payers: Arc<Pages<i64, i64, PayerList>>,
    /// A scorecard per (tenant, payer), by (run generation, rollup version, alert version).
    pub scorecards: Arc<Pages<(i64, String), Versions, ScorecardData>>,
    /// An alert-list page per (tenant, filters, page), by (alert version, day).
    pub alert_lists: Arc<Pages<ListKey, ListGeneration, AlertListData>>,
    /// A person's saved alert filters per (tenant, user), by alert version.
    pub saved_filters: Arc<Pages<SavedKey, i64, Vec<SavedFilter>>>,
    /// An alert's page per (tenant, alert), by (versions, day).
    pub alert_pages: Arc<Pages<DetailKey, DetailGeneration, AlertPageData>>,
}

impl Default for PageCaches {
    fn default() -> Self {
        PageCaches {
            payers: Arc::new(Pages::new(MAX_SMALL)),
            scorecards: Arc::new(Pages::new(MAX_PAGES)),
            alert_lists: Arc::new(Pages::new(MAX_PAGES)),
            saved_filters: Arc::new(Pages::new(MAX_SMALL)),
            alert_pages: Arc::new(Pages::new(MAX_PAGES)),
        }
    }
}

/// Entries of one kind of page, at most `max` (a bound on memory, not on hits: when full
/// it is emptied, which is simplest and rare).
pub struct Pages<K, G, P> {
    entries: Mutex<HashMap<K, (G, Arc<P>)>>,
    max: usize,
}

impl<K, G, P> Pages<K, G, P> {
    pub fn new(max: usize) -> Self {
        Pages {
            entries: Mutex::new(HashMap::new()),
            max,
        }
    }
}

impl<K, G, P> PageCache<K, G, P> for Pages<K, G, P>
where
    K: Hash + Eq + Send,
    G: PartialEq + Send,
    P: Send + Sync,
{
    fn get(&self, key: &K, generation: &G) -> Option<Arc<P>> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .filter(|(g, _)| g == generation)
            .map(|(_, page)| Arc::clone(page))
    }

    fn put(&self, key: K, generation: G, page: Arc<P>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.max && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (generation, page));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_only_the_same_key_and_generation() {
        let pages: Pages<(i64, String), (i64, i64), String> = Pages::new(2);
        pages.put((1, "Aetna".into()), (3, 4), Arc::new("page".into()));
        assert!(pages.get(&(1, "Aetna".into()), &(3, 4)).is_some());
        assert!(
            pages.get(&(1, "Aetna".into()), &(3, 5)).is_none(),
            "moved on"
        );
        assert!(
            pages.get(&(2, "Aetna".into()), &(3, 4)).is_none(),
            "other tenant"
        );
        pages.put((1, "Cigna".into()), (3, 4), Arc::new("c".into()));
        pages.put((1, "Aetna".into()), (3, 5), Arc::new("new".into()));
        assert_eq!(
            pages
                .get(&(1, "Aetna".into()), &(3, 5))
                .as_deref()
                .map(String::as_str),
            Some("new"),
            "replacing an entry does not empty a full cache"
        );
        pages.put((1, "Humana".into()), (3, 4), Arc::new("h".into()));
        assert!(
            pages.get(&(1, "Cigna".into()), &(3, 4)).is_none(),
            "full: emptied"
        );
    }
}
