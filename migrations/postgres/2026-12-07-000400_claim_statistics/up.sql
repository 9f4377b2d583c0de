-- Statistics of the claims an upload stored (docs/decisions.md, "Claim partitions on
-- PostgreSQL"), called after the upload's commit. Without them a tenant's claim pages are
-- planned on guesses: the claims behind an alert at 10M claims took 1.6 s (a bitmap scan
-- of the whole date range and a sort) against 24 ms analysed (an index scan in date
-- order). Autovacuum would analyse them too, but it can be off (it is on this project's
-- own machines), and it waits for its naptime.
--
-- Every partition of the tenant that holds rows but has no statistics is analysed: an
-- upload's own partition once, after its load (or at the next upload, had that failed).
-- The tenant's shared partition is analysed again by autovacuum's rule with its default
-- thresholds — when the rows changed since its last analysis pass 50 + 10 % of its rows —
-- or when this upload alone did (`added`).
CREATE FUNCTION claim_records_refresh_statistics(tenant BIGINT, upload BIGINT, added BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    shared REGCLASS := to_regclass(format('claim_records_t%s_shared', tenant));
    part REGCLASS;
    tuples REAL;
    changed BIGINT;
    analysed BOOLEAN := false;
    shared_done BOOLEAN := false;
BEGIN
    IF shared IS NULL THEN
        RETURN false;
    END IF;
    -- pg_stats, not pg_statistic: only a superuser reads the catalog itself.
    FOR part IN
        SELECT i.inhrelid::regclass FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE i.inhparent = to_regclass(format('claim_records_t%s', tenant))
          AND c.reltuples <> 0
          AND NOT EXISTS (SELECT 1 FROM pg_stats s
                          WHERE s.schemaname = n.nspname AND s.tablename = c.relname)
    LOOP
        EXECUTE format('ANALYZE %s', part);
        analysed := true;
        shared_done := shared_done OR part = shared;
    END LOOP;
    IF shared_done OR to_regclass(format('claim_records_u%s', upload)) IS NOT NULL THEN
        RETURN analysed;
    END IF;
    SELECT c.reltuples, COALESCE(s.n_mod_since_analyze, 0) INTO tuples, changed
        FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.oid = shared;
    IF tuples >= 0 AND GREATEST(changed, added) <= 50 + 0.1 * tuples THEN
        RETURN analysed;
    END IF;
    EXECUTE format('ANALYZE %s', shared);
    RETURN true;
END;
$$;
