-- Ingest writes a million claims per upload; two things made each row expensive here
-- (docs/performance.md, "Ingest"):
--
-- 1. Two indexes no query reads any more — every read of claim_records is a tenant's
--    decided-date range (the covering index of 2026-12-02-600000), one upload's claims
--    (claims_upload_idx) or a whole tenant. Same as the SQLite migration.
DROP INDEX claims_customer_payer_decided_idx;
DROP INDEX claims_customer_group_decided_idx;

-- 2. The two foreign keys' per-row checks (one RI query per claim and key: half of the
--    INSERT's time at 1M rows). The same rules are kept, checked once per statement:
--    * every (upload_id, customer_id) of the inserted claims is an existing upload of
--      that customer (stricter than the two separate keys: a claim cannot name another
--      tenant's upload), with the uploads locked FOR KEY SHARE as a foreign key would,
--      so a concurrent delete waits and then sees the claims;
--    * PROTECT: an upload cannot be deleted while claims reference it (and its id or
--      customer cannot change); claims never move to another upload or tenant.
--    Violations raise SQLSTATE 23503 (foreign_key_violation), like the keys did, so the
--    application maps them exactly as before. (A customer with uploads cannot be deleted:
--    uploads keep their own foreign key.)
ALTER TABLE claim_records DROP CONSTRAINT claim_records_customer_id_fkey;
ALTER TABLE claim_records DROP CONSTRAINT claim_records_upload_id_fkey;

CREATE FUNCTION claim_records_check_uploads() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad RECORD;
BEGIN
    PERFORM 1 FROM uploads u
        WHERE u.id IN (SELECT DISTINCT upload_id FROM new_claims)
        ORDER BY u.id
        FOR KEY SHARE;
    SELECT n.upload_id, n.customer_id INTO bad
        FROM (SELECT DISTINCT upload_id, customer_id FROM new_claims) n
        WHERE NOT EXISTS (
            SELECT 1 FROM uploads u WHERE u.id = n.upload_id AND u.customer_id = n.customer_id)
        LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'claim_records: upload % of customer % does not exist',
            bad.upload_id, bad.customer_id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER claim_records_uploads_exist
    AFTER INSERT ON claim_records
    REFERENCING NEW TABLE AS new_claims
    FOR EACH STATEMENT EXECUTE FUNCTION claim_records_check_uploads();

CREATE FUNCTION claim_records_keep_owner() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'claim_records: a claim''s upload and customer cannot change'
        USING ERRCODE = 'foreign_key_violation';
END;
$$;

CREATE TRIGGER claim_records_owner_fixed
    BEFORE UPDATE OF customer_id, upload_id ON claim_records
    FOR EACH ROW
    WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id
          OR OLD.upload_id IS DISTINCT FROM NEW.upload_id)
    EXECUTE FUNCTION claim_records_keep_owner();

CREATE FUNCTION uploads_protect_claims() RETURNS trigger
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

CREATE TRIGGER uploads_protect_claims_delete
    BEFORE DELETE ON uploads
    FOR EACH ROW EXECUTE FUNCTION uploads_protect_claims();

CREATE TRIGGER uploads_protect_claims_update
    BEFORE UPDATE OF id, customer_id ON uploads
    FOR EACH ROW
    WHEN (OLD.id IS DISTINCT FROM NEW.id OR OLD.customer_id IS DISTINCT FROM NEW.customer_id)
    EXECUTE FUNCTION uploads_protect_claims();

CREATE FUNCTION uploads_refuse_truncate_with_claims() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM claim_records) THEN
        RAISE EXCEPTION 'uploads cannot be truncated while claims exist'
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER uploads_protect_claims_truncate
    BEFORE TRUNCATE ON uploads
    FOR EACH STATEMENT EXECUTE FUNCTION uploads_refuse_truncate_with_claims();
