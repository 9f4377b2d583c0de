DROP TRIGGER uploads_protect_claims_truncate ON uploads;
DROP TRIGGER uploads_protect_claims_update ON uploads;
DROP TRIGGER uploads_protect_claims_delete ON uploads;
DROP TRIGGER claim_records_owner_fixed ON claim_records;
DROP TRIGGER claim_records_uploads_exist ON claim_records;
DROP FUNCTION uploads_refuse_truncate_with_claims();
DROP FUNCTION uploads_protect_claims();
DROP FUNCTION claim_records_keep_owner();
DROP FUNCTION claim_records_check_uploads();
ALTER TABLE claim_records ADD CONSTRAINT claim_records_customer_id_fkey
    FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE RESTRICT;
ALTER TABLE claim_records ADD CONSTRAINT claim_records_upload_id_fkey
    FOREIGN KEY (upload_id) REFERENCES uploads (id) ON DELETE RESTRICT;
CREATE INDEX claims_customer_payer_decided_idx ON claim_records (customer_id, payer, decided_date);
CREATE INDEX claims_customer_group_decided_idx ON claim_records (customer_id, cpt_group, decided_date);
