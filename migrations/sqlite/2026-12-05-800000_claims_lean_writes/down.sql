CREATE INDEX claims_customer_payer_decided_idx ON claim_records (customer_id, payer, decided_date);
CREATE INDEX claims_customer_group_decided_idx ON claim_records (customer_id, cpt_group, decided_date);
