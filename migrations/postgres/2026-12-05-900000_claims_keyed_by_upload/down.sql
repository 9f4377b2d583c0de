CREATE INDEX claims_upload_idx ON claim_records (upload_id);
ALTER TABLE claim_records DROP CONSTRAINT claim_records_pkey;
ALTER TABLE claim_records ADD CONSTRAINT claim_records_pkey PRIMARY KEY (id);
