-- The analytics aggregates (src/db/repo/analytics.rs) read one date range of a tenant's
-- claims per window. With this covering index each window is one range scan of the
-- index, without a table lookup per claim (docs/performance.md, "Analytics
-- recomputation"). Compat-mode windows (by submitted_date) use it too: every claim has
-- decided_date >= submitted_date, so their queries also bound decided_date.
-- It replaces (customer_id, decided_date) — its prefix — and (customer_id, outcome),
-- which no query used: ingest maintains four indexes on claims instead of five, one of
-- them wide. denial_reason_text stays out: up to 500 characters would make PostgreSQL
-- index entries too large; the DenialScope query reads it for denied claims only.
DROP INDEX claims_customer_decided_idx;
DROP INDEX claims_customer_outcome_idx;
CREATE INDEX claims_customer_decided_cover_idx ON claim_records (
    customer_id, decided_date, payer, cpt_group, outcome, decision_days,
    submitted_date, allowed_cents, denial_reason_code
);
