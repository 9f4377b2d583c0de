-- The analytics aggregates (src/db/repo/analytics.rs) read one date range of a tenant's
-- claims per window: by decided_date (sound mode) or submitted_date (compat mode). With
-- these two covering indexes each window is one range scan of an index, without a table
-- lookup per claim (docs/performance.md, "Analytics recomputation"). They replace
-- (customer_id, decided_date) — a prefix of the first — and (customer_id, outcome),
-- which no query used, so the claims table keeps five indexes to maintain on ingest.
-- denial_reason_text stays out: up to 500 characters would make PostgreSQL index entries
-- too large; the DenialScope query fetches it for denied claims only.
DROP INDEX claims_customer_decided_idx;
DROP INDEX claims_customer_outcome_idx;
CREATE INDEX claims_customer_decided_cover_idx ON claim_records (
    customer_id, decided_date, payer, cpt_group, outcome, decision_days,
    submitted_date, allowed_cents, denial_reason_code
);
CREATE INDEX claims_customer_submitted_cover_idx ON claim_records (
    customer_id, submitted_date, payer, cpt_group, outcome, decision_days,
    decided_date, allowed_cents, denial_reason_code
);
