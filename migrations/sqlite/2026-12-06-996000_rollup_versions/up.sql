-- Issue 21 item 4: a per-tenant counter of changes to the daily rollups, bumped in the
-- transaction of every upload, delete, re-map, reversal or rebuild that changes them
-- (repo::rollups::apply / replace). Caches of figures computed from the rollups (payer
-- scorecards, finding charts) are keyed by it, so a change is visible on the next request.
CREATE TABLE rollup_versions (
    customer_id BIGINT PRIMARY KEY NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);
