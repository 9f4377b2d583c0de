DROP TABLE claim_reversals;
DROP INDEX claims_reversed_by_idx;
ALTER TABLE claim_records DROP COLUMN reversed_by;
ALTER TABLE claim_records DROP COLUMN svc_segment;
ALTER TABLE claim_records DROP COLUMN claim_key;
ALTER TABLE claim_records DROP COLUMN adjustments;
ALTER TABLE claim_records DROP COLUMN remark_codes;
ALTER TABLE claim_records DROP COLUMN modifiers;
ALTER TABLE claim_records DROP COLUMN payer_id;
