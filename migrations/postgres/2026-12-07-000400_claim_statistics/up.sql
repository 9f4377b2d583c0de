-- Statistics of the claims an upload stored (docs/decisions.md, "Claim partitions on
-- PostgreSQL"), called after the upload's commit. Without them a tenant's claim pages are
-- planned on guesses: the claims behind an alert at 10M claims took 1.6 s (a bitmap scan
-- of the whole date range and a sort) against 24 ms analysed (an index scan in date
-- order). Autovacuum would analyse them too, but it can be off (it is on this project's
-- own machines), and it waits for its naptime.
--
-- An upload's own partition is analysed once, after its load. The tenant's shared
-- partition is analysed by autovacuum's rule — when the rows changed since its last
-- analysis pass 50 + 10 % of its rows — or when this upload alone did (`added`: the
-- change counters reach the statistics a moment after the commit).
CREATE FUNCTION claim_records_refresh_statistics(tenant BIGINT, upload BIGINT, added BIGINT)
RETURNS BOOLEAN
LANGUAGE plpgsql AS $$
DECLARE
    part REGCLASS := to_regclass(format('claim_records_u%s', upload));
    tuples REAL;
    changed BIGINT;
BEGIN
    IF part IS NULL THEN
        part := to_regclass(format('claim_records_t%s_shared', tenant));
        IF part IS NULL THEN
            RETURN false;
        END IF;
        SELECT c.reltuples, COALESCE(s.n_mod_since_analyze, 0) INTO tuples, changed
            FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
            WHERE c.oid = part;
        IF tuples >= 0 AND GREATEST(changed, added) <= 50 + 0.1 * tuples THEN
            RETURN false;
        END IF;
    END IF;
    EXECUTE format('ANALYZE %s', part);
    RETURN true;
END;
$$;
