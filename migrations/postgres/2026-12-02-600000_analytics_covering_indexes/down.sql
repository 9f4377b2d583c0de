DROP INDEX claims_customer_decided_cover_idx;
CREATE INDEX claims_customer_decided_idx ON claim_records (customer_id, decided_date);
CREATE INDEX claims_customer_outcome_idx ON claim_records (customer_id, outcome);
