//! In-process cache of what a findings page reads from the tenant's runs and events:
//! the payer and group drop-downs and the product's last run (per product), and the
//! formatted events of a filtered page (per filter and page, a bounded number of them).
//! Events are written only when a run finishes, so entries are valid for one run
//! generation (`repo::analytics::run_generation`), which moves on every start and finish
//! — a stale entry is never served, it is just never asked for again.

use std::collections::HashMap;
use std::sync::Arc;

use crate::db::repo::Page;
use crate::db::repo::analytics::DriftEvent;
pub use crate::services::findings::Facets;
use crate::services::findings::{
    Charts, FeedCache, PageGeneration, PageKey, RunGeneration as Generation,
};
use crate::services::page_cache::PageCache;
use crate::web::caches::charts::ChartCache;
use crate::web::caches::pages::Pages;
use crate::web::handlers::findings::view::{EventView, view};

const MAX_ENTRIES: usize = 5_000;
/// Pages are ~25 KB each (charts included): a bound on memory, not on hits.
const MAX_PAGES: usize = 256;

/// One page of events, formatted, with what its pagination needs.
pub struct EventsPage {
    pub events: Arc<Vec<EventView>>,
    pub page: i64,
    pub total_pages: i64,
    pub total: i64,
    pub has_prev: bool,
    pub has_next: bool,
}

/// (customer id, product).
type Key = (i64, &'static str);

/// Facets per (tenant, product) and formatted pages per filter, each map by run
/// generation (pages also by rollup version): the generation-keyed map of
/// [`super::pages::Pages`].
pub struct FacetCache {
    entries: Pages<Key, Generation, Facets>,
    pages: Pages<PageKey, PageGeneration, EventsPage>,
}

impl Default for FacetCache {
    fn default() -> Self {
        FacetCache {
            entries: Pages::new(MAX_ENTRIES),
            pages: Pages::new(MAX_PAGES),
        }
    }
}

impl FacetCache {
    pub fn get(
        &self,
        customer_id: i64,
        product: &'static str,
        generation: Generation,
    ) -> Option<Arc<Facets>> {
        self.entries.get(&(customer_id, product), &generation)
    }

    pub fn put(
        &self,
        customer_id: i64,
        product: &'static str,
        generation: Generation,
        facets: Arc<Facets>,
    ) {
        self.entries.put((customer_id, product), generation, facets);
    }

    pub fn page(&self, key: &PageKey, generation: PageGeneration) -> Option<Arc<EventsPage>> {
        self.pages.get(key, &generation)
    }

    pub fn put_page(&self, key: PageKey, generation: PageGeneration, page: Arc<EventsPage>) {
        self.pages.put(key, generation, page);
    }
}

/// The feed's caches as `services::findings::feed` uses them: this one, the charts, and
/// how a page of events is formatted for them.
pub struct FeedCaches {
    pub facets: Arc<FacetCache>,
    pub charts: Arc<ChartCache>,
}

impl FeedCache for FeedCaches {
    type Page = EventsPage;

    fn facets(
        &self,
        customer_id: i64,
        product: &'static str,
        generation: Generation,
    ) -> Option<Arc<Facets>> {
        self.facets.get(customer_id, product, generation)
    }

    fn put_facets(
        &self,
        customer_id: i64,
        product: &'static str,
        generation: Generation,
        facets: Arc<Facets>,
    ) {
        self.facets.put(customer_id, product, generation, facets);
    }

    fn page(&self, key: &PageKey, generation: PageGeneration) -> Option<Arc<EventsPage>> {
        self.facets.page(key, generation)
    }

    fn put_page(&self, key: PageKey, generation: PageGeneration, page: Arc<EventsPage>) {
        self.facets.put_page(key, generation, page);
    }

    fn charts(&self) -> &dyn Charts {
        self.charts.as_ref()
    }

    fn present(&self, events: Page<DriftEvent>, mut charts: HashMap<i64, String>) -> EventsPage {
        let views = events
            .items
            .iter()
            .map(|e| view(e, charts.remove(&e.id).unwrap_or_default()))
            .collect();
        EventsPage {
            events: Arc::new(views),
            page: events.page,
            total_pages: events.total_pages(),
            total: events.total,
            has_prev: events.has_prev(),
            has_next: events.has_next(),
        }
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

        let key = (1, "drift_watch", "payer=Aetna".to_string(), 1);
        let page = Arc::new(EventsPage {
            events: Arc::new(Vec::new()),
            page: 1,
            total_pages: 1,
            total: 0,
            has_prev: false,
            has_next: false,
        });
        cache.put_page(key.clone(), ((10, 3), 7), page);
        assert!(cache.page(&key, ((10, 3), 7)).is_some());
        assert!(cache.page(&key, ((10, 4), 7)).is_none(), "a run finished");
        assert!(cache.page(&key, ((10, 3), 8)).is_none(), "a re-map");
        let other = (1, "drift_watch", "payer=Cigna".to_string(), 1);
        assert!(cache.page(&other, ((10, 3), 7)).is_none(), "other filters");
    }
}
