-- Every read of claim_records is a tenant's decided-date range (analytics windows, the
-- group charts, recent claims: the covering index of 2026-12-02-600000), one upload's
-- claims (claims_upload_idx) or a whole tenant (remap). Nothing reads
-- (customer_id, payer, decided_date) or (customer_id, cpt_group, decided_date) any more —
-- EXPLAIN QUERY PLAN of the chart query picks the covering index — yet every ingested row
-- paid for both (docs/performance.md, "Ingest"). They go.
DROP INDEX claims_customer_payer_decided_idx;
DROP INDEX claims_customer_group_decided_idx;
