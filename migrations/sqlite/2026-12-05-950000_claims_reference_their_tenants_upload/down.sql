DROP TRIGGER claim_records_owner_fixed;
CREATE TABLE claim_records_rebuilt (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    -- PROTECT: an upload cannot be deleted while its claims exist
    upload_id BIGINT NOT NULL REFERENCES uploads (id),
    payer_raw TEXT NOT NULL,
    payer TEXT NOT NULL,
    cpt TEXT NOT NULL,
    cpt_group TEXT NOT NULL,
    submitted_date DATE NOT NULL,
    decided_date DATE NOT NULL,
    decision_days INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    allowed_cents BIGINT NULL,
    denial_reason_code TEXT NULL,
    denial_reason_text TEXT NULL
);
INSERT INTO claim_records_rebuilt (id, customer_id, upload_id, payer_raw, payer, cpt,
    cpt_group, submitted_date, decided_date, decision_days, outcome, allowed_cents,
    denial_reason_code, denial_reason_text)
SELECT id, customer_id, upload_id, payer_raw, payer, cpt, cpt_group, submitted_date,
    decided_date, decision_days, outcome, allowed_cents, denial_reason_code,
    denial_reason_text
FROM claim_records;
DROP TABLE claim_records;
ALTER TABLE claim_records_rebuilt RENAME TO claim_records;
CREATE INDEX claims_upload_idx ON claim_records (upload_id);
CREATE INDEX claims_customer_decided_cover_idx ON claim_records (
    customer_id, decided_date, payer, cpt_group, outcome, decision_days,
    submitted_date, allowed_cents, denial_reason_code
);
DROP INDEX uploads_id_customer_idx;
