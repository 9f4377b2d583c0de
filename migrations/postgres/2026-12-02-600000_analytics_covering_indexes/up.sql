-- The analytics aggregates (src/db/repo/analytics.rs) read one date range of a tenant's
-- claims per window. With this covering index a short window is one index(-only, once
-- (auto)vacuum has set the visibility map) range scan instead of a heap fetch per claim
-- (docs/performance.md, "Analytics recomputation"). Compat-mode windows (by
-- submitted_date) use it too: every claim has decided_date >= submitted_date, so their
-- queries also bound decided_date. It replaces (customer_id, decided_date) — its key —
-- and (customer_id, outcome), which no query used: ingest maintains four indexes on
-- claims instead of five. Same intent as the SQLite migration; the non-key columns go in
-- INCLUDE here. denial_reason_text stays out: up to 500 characters could exceed the
-- B-tree entry size limit.
DROP INDEX claims_customer_decided_idx;
DROP INDEX claims_customer_outcome_idx;
CREATE INDEX claims_customer_decided_cover_idx ON claim_records (customer_id, decided_date)
    INCLUDE (payer, cpt_group, outcome, decision_days, submitted_date, allowed_cents, denial_reason_code);
