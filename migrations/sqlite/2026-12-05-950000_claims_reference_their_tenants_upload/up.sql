-- A claim must reference an upload *of its own tenant*, as on PostgreSQL (migration
-- 2026-12-05-800000 there, by trigger): one composite foreign key (upload_id,
-- customer_id) → uploads (id, customer_id) replaces the two single-column ones. It also
-- keeps PROTECT (an upload with claims cannot be deleted or change tenant: NO ACTION, as
-- before) and costs one parent lookup per ingested row instead of two. SQLite cannot
-- change a table's foreign keys in place, so the table is rebuilt with its indexes.
-- A trigger refuses moving a claim to another upload or tenant (PostgreSQL:
-- claim_records_owner_fixed).
CREATE UNIQUE INDEX uploads_id_customer_idx ON uploads (id, customer_id);

CREATE TABLE claim_records_rebuilt (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL,
    upload_id BIGINT NOT NULL,
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
    denial_reason_text TEXT NULL,
    FOREIGN KEY (upload_id, customer_id) REFERENCES uploads (id, customer_id)
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

CREATE TRIGGER claim_records_owner_fixed BEFORE UPDATE OF customer_id, upload_id
ON claim_records
WHEN OLD.customer_id IS NOT NEW.customer_id OR OLD.upload_id IS NOT NEW.upload_id
BEGIN
    SELECT RAISE(ABORT, 'a claim cannot move to another upload or customer');
END;
