-- X12 835 details kept per service line (issue 20, docs/x12-835.md). All NULL for CSV
-- rows. payer_id: N1*PR04 / REF*2U (canonical payer identity); modifiers: SVC01-3..6
-- (`25 59`); remark_codes: LQ*HE + MOA RARCs (`N130 MA01`); adjustments: every CAS with
-- its amount (`CO-45:30.00 PR-2:20.00`); claim_key: keyed HMAC of payer + CLP01 + CLP07
-- (never the numbers themselves) so a later reversal finds the claim; svc_segment: the
-- SVC segment number (a reversal reverses the same file's claims before it);
-- reversed_by: the upload whose CLP02 = 22 reversed the claim (its outcome is then
-- REVERSED, which every analytics query leaves out).
ALTER TABLE claim_records ADD COLUMN payer_id TEXT NULL;
ALTER TABLE claim_records ADD COLUMN modifiers TEXT NULL;
ALTER TABLE claim_records ADD COLUMN remark_codes TEXT NULL;
ALTER TABLE claim_records ADD COLUMN adjustments TEXT NULL;
ALTER TABLE claim_records ADD COLUMN claim_key BIGINT NULL;
ALTER TABLE claim_records ADD COLUMN svc_segment BIGINT NULL;
ALTER TABLE claim_records ADD COLUMN reversed_by BIGINT NULL;
-- Only reversed claims are in it: no cost at ingest.
CREATE INDEX claims_reversed_by_idx ON claim_records (reversed_by) WHERE reversed_by IS NOT NULL;

-- The reversal claims (CLP02 = 22) of an 835 upload, matched after its claims are
-- written; kept as the record of what the upload reversed.
CREATE TABLE claim_reversals (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    upload_id BIGINT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    segment BIGINT NOT NULL,
    claim_key BIGINT NULL,
    lines BIGINT NOT NULL
);
CREATE INDEX claim_reversals_upload_idx ON claim_reversals (upload_id, claim_key, segment);
