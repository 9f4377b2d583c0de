-- Back to one claims table (every partition's rows, ids kept).
CREATE TABLE claim_records_unpartitioned (
    id BIGINT NOT NULL DEFAULT nextval('claim_records_id_seq'),
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
    payer_id TEXT NULL,
    modifiers TEXT NULL,
    remark_codes TEXT NULL,
    adjustments TEXT NULL,
    claim_key BIGINT NULL,
    svc_segment BIGINT NULL,
    reversed_by BIGINT NULL
);
INSERT INTO claim_records_unpartitioned (id, customer_id, upload_id, payer_raw, payer, cpt,
    cpt_group, submitted_date, decided_date, decision_days, outcome, allowed_cents,
    denial_reason_code, denial_reason_text, payer_id, modifiers, remark_codes, adjustments,
    claim_key, svc_segment, reversed_by)
SELECT id, customer_id, upload_id, payer_raw, payer, cpt, cpt_group, submitted_date,
    decided_date, decision_days, outcome, allowed_cents, denial_reason_code,
    denial_reason_text, payer_id, modifiers, remark_codes, adjustments, claim_key,
    svc_segment, reversed_by
FROM claim_records ORDER BY upload_id, id;
ALTER SEQUENCE claim_records_id_seq OWNED BY claim_records_unpartitioned.id;
DROP TABLE claim_records;
DROP FUNCTION claim_records_tenant_partition(BIGINT);
DROP FUNCTION claim_records_load_begin(BIGINT, BIGINT);
DROP FUNCTION claim_records_load_attach(BIGINT, BIGINT);

ALTER TABLE claim_records_unpartitioned RENAME TO claim_records;
ALTER TABLE claim_records ADD CONSTRAINT claim_records_pkey PRIMARY KEY (upload_id, id);
CREATE INDEX claims_customer_decided_cover_idx ON claim_records (customer_id, decided_date)
    INCLUDE (payer, cpt_group, outcome, decision_days, submitted_date, allowed_cents, denial_reason_code);
CREATE INDEX claims_reversed_by_idx ON claim_records (reversed_by) WHERE reversed_by IS NOT NULL;
CREATE TRIGGER claim_records_uploads_exist
    AFTER INSERT ON claim_records
    REFERENCING NEW TABLE AS new_claims
    FOR EACH STATEMENT EXECUTE FUNCTION claim_records_check_uploads();
CREATE TRIGGER claim_records_owner_fixed
    BEFORE UPDATE OF customer_id, upload_id ON claim_records
    FOR EACH ROW
    WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id
          OR OLD.upload_id IS DISTINCT FROM NEW.upload_id)
    EXECUTE FUNCTION claim_records_keep_owner();

CREATE OR REPLACE FUNCTION uploads_protect_claims() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM claim_records WHERE upload_id = OLD.id) THEN
        RAISE EXCEPTION 'upload % still has claims', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;
