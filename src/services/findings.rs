//! Findings as people and scripts read them: the feed pages (DriftWatch, DenialScope,
//! DelayGuard) with their drop-downs, last run and charts; their CSV export; the API's list
//! and one finding with its weekly series. What is cached between requests lives in the
//! web (`web::caches`), behind the traits here, so a page is still one blocking hop.

use std::collections::HashMap;
use std::sync::Arc;

use crate::db::repo::analytics::{self as repo, DriftEvent, EventFilter, ReportRun};
use crate::db::repo::{Page, keyset, page_versions};
use crate::db::{AuditContext, AuditEntry, Db, DbConnection, DbError};
use crate::domain::analytics::Product;
use crate::domain::tenant::TenantScope;
use crate::services::analytics::charts::{self as chart_series, ChartSeries};

/// `repo::analytics::run_generation`: moves on every run's start and finish.
pub type RunGeneration = (i64, i64);
/// What a finding's chart depends on: the tenant's newest run id and its rollup version
/// (`repo::rollups::version`; re-maps change the rollups without a run).
pub type ChartGeneration = (i64, i64);
/// A feed page holds events (a run generation) and charts (the rollup version).
pub type PageGeneration = (RunGeneration, i64);
/// (customer id, product, filters as a query string, page).
pub type PageKey = (i64, &'static str, String, i64);

/// The filter-independent part of a findings page.
#[derive(Debug, Clone)]
pub struct Facets {
    pub payers: Vec<String>,
    pub groups: Vec<String>,
    pub last_run: Option<ReportRun>,
}

/// Drawn charts kept between requests, and how one is drawn (SVG is the web's).
pub trait Charts: Send + Sync {
    fn get(&self, event_id: i64, generation: ChartGeneration) -> Option<String>;
    fn put(&self, event_id: i64, generation: ChartGeneration, svg: String);
    fn draw(&self, event: &DriftEvent, series: &ChartSeries) -> String;
}

/// The charts of some findings, keyed by event id: from `charts` where it holds them for
/// this generation, the rest read in one go, drawn and kept (the feed and an alert's page:
/// at 10M claims building a chart from the day rows is most of a page's cost).
pub fn cached_charts(
    conn: &mut DbConnection,
    scope: &TenantScope,
    charts: &dyn Charts,
    generation: ChartGeneration,
    events: &[DriftEvent],
) -> Result<HashMap<i64, String>, DbError> {
    let mut drawn = HashMap::new();
    let mut missing = Vec::new();
    for event in events {
        match charts.get(event.id, generation) {
            Some(svg) => {
                drawn.insert(event.id, svg);
            }
            None => missing.push(event),
        }
    }
    if missing.is_empty() {
        return Ok(drawn);
    }
    let rows = chart_series::rows_for(conn, scope, &missing)?;
    for event in missing {
        let svg = charts.draw(event, &chart_series::series(event, &rows));
        charts.put(event.id, generation, svg.clone());
        drawn.insert(event.id, svg);
    }
    Ok(drawn)
}

/// The feed's cache (facets per product, formatted pages per filter) and how a page of
/// events is formatted for it: the web's page type, with its charts drawn.
pub trait FeedCache: Send + Sync + 'static {
    type Page: Send + Sync + 'static;
    fn facets(
        &self,
        customer_id: i64,
        product: &'static str,
        generation: RunGeneration,
    ) -> Option<Arc<Facets>>;
    fn put_facets(
        &self,
        customer_id: i64,
        product: &'static str,
        generation: RunGeneration,
        facets: Arc<Facets>,
    );
    fn page(&self, key: &PageKey, generation: PageGeneration) -> Option<Arc<Self::Page>>;
    fn put_page(&self, key: PageKey, generation: PageGeneration, page: Arc<Self::Page>);
    fn charts(&self) -> &dyn Charts;
    /// A page of events with their charts (by event id), as the page shows it.
    fn present(&self, events: Page<DriftEvent>, charts: HashMap<i64, String>) -> Self::Page;
}

/// What a feed page asks for.
pub struct FeedQuery {
    pub product: Product,
    pub filter: EventFilter,
    pub page: i64,
    pub per_page: i64,
    /// The filters as a query string (the page cache's key).
    pub key: String,
    /// False beside a refused filter: the drop-downs and last run only.
    pub list: bool,
}

/// A feed page: its drop-downs and last run, and its events when they were asked for.
pub struct Feed<P> {
    pub facets: Arc<Facets>,
    pub events: Option<Arc<P>>,
}

/// A findings page, in one blocking hop. What it reads from runs and events comes from
/// the cache while no run has started or finished (events only change then).
pub async fn feed<C: FeedCache>(
    db: &Db,
    scope: TenantScope,
    query: FeedQuery,
    cache: Arc<C>,
) -> Result<Feed<C::Page>, DbError> {
    db.run(move |conn| {
        let product = query.product.as_str();
        // Run generation and rollup version in one statement (both read before the data,
        // as `repo::analytics::run_generation` and `repo::rollups::version` would).
        let versions = page_versions::read(conn, &scope)?;
        let (run_generation, rollup_version) = (versions.runs, versions.rollups);
        let facets = match cache.facets(scope.id(), product, run_generation) {
            Some(facets) => facets,
            None => {
                let (payers, groups) = repo::event_facets(conn, &scope, &[product])?;
                let facets = Arc::new(Facets {
                    payers,
                    groups,
                    last_run: repo::latest_run_of(conn, &scope, product)?,
                });
                cache.put_facets(scope.id(), product, run_generation, Arc::clone(&facets));
                facets
            }
        };
        if !query.list {
            return Ok(Feed {
                facets,
                events: None,
            });
        }
        let key = (scope.id(), product, query.key, query.page);
        let generation = (run_generation, rollup_version);
        if let Some(events) = cache.page(&key, generation) {
            return Ok(Feed {
                facets,
                events: Some(events),
            });
        }
        let events = repo::list_events(conn, &scope, &query.filter, query.page, query.per_page)?;
        let charts = cached_charts(
            conn,
            &scope,
            cache.charts(),
            (run_generation.0, rollup_version),
            &events.items,
        )?;
        let page = Arc::new(cache.present(events, charts));
        cache.put_page(key, generation, Arc::clone(&page));
        Ok(Feed {
            facets,
            events: Some(page),
        })
    })
    .await
}

/// Events read per statement by the CSV export.
const EXPORT_CHUNK: i64 = 1000;

/// A findings page's events for its CSV export (every page of the filter), and the audit
/// row of the export (`entry`), written once they are read.
pub async fn export(
    db: &Db,
    scope: TenantScope,
    filter: EventFilter,
    ctx: AuditContext,
    entry: AuditEntry<'static>,
) -> Result<Vec<DriftEvent>, DbError> {
    let events = db
        .run(move |conn| {
            let mut all = Vec::new();
            let mut page = 1;
            loop {
                let chunk = repo::list_events(conn, &scope, &filter, page, EXPORT_CHUNK)?;
                let more = chunk.has_next();
                all.extend(chunk.items);
                if !more {
                    return Ok(all);
                }
                page += 1;
            }
        })
        .await?;
    db.write_audit(ctx, entry).await?;
    Ok(events)
}

/// The API's list: up to `limit` findings after the cursor `after` (an id), newest first.
pub async fn list_after(
    db: &Db,
    scope: TenantScope,
    filter: EventFilter,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<DriftEvent>, DbError> {
    db.run(move |conn| keyset::events(conn, &scope, &filter, after, limit))
        .await
}

/// One finding and the weekly series behind its chart (absent when it has none).
pub async fn one(
    db: &Db,
    scope: TenantScope,
    id: i64,
) -> Result<(DriftEvent, Option<ChartSeries>), DbError> {
    db.run(move |conn| {
        let event = repo::find_event(conn, &scope, id)?;
        let mut series = chart_series::series_for(conn, &scope, &[&event])?;
        let series = series.remove(&event.id);
        Ok((event, series))
    })
    .await
}
