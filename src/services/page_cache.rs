//! Page data kept between requests (the web's `caches::pages`): an entry is served only
//! to a request that read the same generation of what the entry was read from
//! (`repo::page_versions`), so a write that moves the generation is visible on the next
//! request, and a key always starts with the tenant's id (no page crosses tenants). The
//! data is cached, not the page: who is signed in, their role, the CSRF token and flash
//! messages are rendered per request.

use std::sync::Arc;

pub trait PageCache<K, G, P>: Send + Sync {
    fn get(&self, key: &K, generation: &G) -> Option<Arc<P>>;
    fn put(&self, key: K, generation: G, page: Arc<P>);
}
