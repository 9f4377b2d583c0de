-- "Re-map stored claims now" is a job (issue 19 follow-up): it commits in bounded steps
-- instead of holding the tenant's claims in one long transaction.
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('upload', 'analytics', 'remap'));
-- The mappings page shows the tenant's latest re-map.
CREATE INDEX jobs_customer_kind_idx ON jobs (customer_id, kind, id);
