-- Claims in partitions (issue 21; docs/decisions.md "Claim partitions on PostgreSQL").
--
-- A large upload is loaded the way PostgreSQL's own bulk load is fastest: COPY into a
-- table of its own without indexes, the indexes built once, sorted, then the table
-- attached as a partition. Row by row into one shared table, every claim was an insert
-- into the covering index (≈ 2.5 of a 1M upload's 7 s). So:
--
--   claim_records                  PARTITION BY LIST (customer_id)
--     claim_records_t<customer>    PARTITION BY LIST (segment), one per tenant
--       claim_records_t<c>_shared  FOR VALUES IN (0): uploads written row by row
--       claim_records_u<upload>    FOR VALUES IN (<upload>): one large upload each
--
-- `segment` is 0 or the id of the upload that has a partition of its own; nothing reads
-- it. A tenant's queries (all of them name customer_id) see the tenant's partitions only.
-- The application creates a tenant's partitions before its first claims
-- (claim_records_tenant_partition) and loads large uploads with claim_records_load_begin
-- / claim_records_load_attach, inside the upload's transaction. SQLite keeps one table.
ALTER TABLE claim_records RENAME TO claim_records_unpartitioned;
ALTER TABLE claim_records_unpartitioned
    RENAME CONSTRAINT claim_records_pkey TO claim_records_unpartitioned_pkey;
ALTER INDEX claims_customer_decided_cover_idx RENAME TO claims_unpartitioned_cover_idx;
ALTER INDEX claims_reversed_by_idx RENAME TO claims_unpartitioned_reversed_by_idx;
DROP TRIGGER claim_records_uploads_exist ON claim_records_unpartitioned;
DROP TRIGGER claim_records_owner_fixed ON claim_records_unpartitioned;

CREATE TABLE claim_records (
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
    reversed_by BIGINT NULL,
    segment BIGINT NOT NULL DEFAULT 0
) PARTITION BY LIST (customer_id);
ALTER SEQUENCE claim_records_id_seq OWNED BY claim_records.id;
CREATE TRIGGER claim_records_owner_fixed
    BEFORE UPDATE OF customer_id, upload_id ON claim_records
    FOR EACH ROW
    WHEN (OLD.customer_id IS DISTINCT FROM NEW.customer_id
          OR OLD.upload_id IS DISTINCT FROM NEW.upload_id)
    EXECUTE FUNCTION claim_records_keep_owner();

-- A tenant's partitions, unless they exist; returns how many of them are uploads' own
-- (the application caps that: each is planned over by the tenant's claim queries). Call
-- it outside the upload's
-- transaction (it commits DDL on the shared parent; two first uploads of one tenant at
-- once: the second waits for the first, then finds them).
CREATE FUNCTION claim_records_tenant_partition(tenant BIGINT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    parent TEXT := format('claim_records_t%s', tenant);
BEGIN
    IF to_regclass(parent) IS NOT NULL THEN
        RETURN (SELECT COUNT(*) - 1 FROM pg_inherits WHERE inhparent = to_regclass(parent));
    END IF;
    PERFORM pg_advisory_xact_lock(22, CAST(tenant AS INTEGER));
    -- A query, not to_regclass: it takes a new snapshot, so it sees the partition a
    -- concurrent call committed while this one waited.
    IF EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE c.relname = parent AND n.nspname = current_schema()) THEN
        RETURN (SELECT COUNT(*) - 1 FROM pg_inherits WHERE inhparent = to_regclass(parent));
    END IF;
    EXECUTE format('CREATE TABLE %I (LIKE claim_records INCLUDING DEFAULTS) '
                   'PARTITION BY LIST (segment)', parent);
    EXECUTE format('ALTER TABLE claim_records ATTACH PARTITION %I FOR VALUES IN (%s)',
                   parent, tenant);
    EXECUTE format('CREATE TABLE %I (LIKE claim_records INCLUDING DEFAULTS)',
                   parent || '_shared');
    EXECUTE format('ALTER TABLE %I ATTACH PARTITION %I FOR VALUES IN (0)',
                   parent, parent || '_shared');
    RETURN 0;
END;
$$;

-- Starts loading upload `upload` of tenant `tenant` into a table of its own, without
-- indexes: created in a schema of its own as `claim_records_load`, which the rest of the
-- transaction finds first on its search path (the application's COPY names that table).
-- The CHECKs hold every row to this tenant and upload (and let the attach below skip its
-- validation scan). Inside the upload's transaction; then COPY, then the attach.
CREATE FUNCTION claim_records_load_begin(tenant BIGINT, upload BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    load_schema TEXT := format('claims_load_%s', upload);
BEGIN
    EXECUTE format('CREATE SCHEMA %I', load_schema);
    EXECUTE format('CREATE TABLE %I.claim_records_load (LIKE claim_records INCLUDING DEFAULTS, '
                   'CHECK (customer_id = %s), CHECK (upload_id = %s), CHECK (segment = %s))',
                   load_schema, tenant, upload, upload);
    EXECUTE format('ALTER TABLE %I.claim_records_load ALTER COLUMN segment SET DEFAULT %s',
                   load_schema, upload);
    PERFORM set_config('payerwatch.load_search_path', current_setting('search_path'), true);
    PERFORM set_config('search_path',
                       format('%I, ', load_schema) || current_setting('search_path'), true);
END;
$$;

-- Ends the load begun by claim_records_load_begin: the search path as it was, the upload
-- checked (as the statement trigger checks COPY into claim_records: this tenant's upload,
-- locked FOR KEY SHARE as a foreign key would), the table renamed claim_records_u<upload>
-- beside claim_records and attached under the tenant — which builds its indexes, each
-- once and sorted. (Its statistics: after the commit, migration 2026-12-07-000400. An
-- ANALYZE here cost ≈ 1 s per million claims, the index builds 1.4 s.)
CREATE FUNCTION claim_records_load_attach(tenant BIGINT, upload BIGINT) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    load_schema TEXT := format('claims_load_%s', upload);
    part TEXT := format('claim_records_u%s', upload);
    home TEXT;
BEGIN
    PERFORM set_config('search_path', current_setting('payerwatch.load_search_path'), true);
    SELECT n.nspname INTO home FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.oid = to_regclass('claim_records');
    PERFORM 1 FROM uploads WHERE id = upload AND customer_id = tenant FOR KEY SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'claim_records: upload % of customer % does not exist', upload, tenant
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    EXECUTE format('ALTER TABLE %I.claim_records_load RENAME TO %I', load_schema, part);
    EXECUTE format('ALTER TABLE %I.%I SET SCHEMA %I', load_schema, part, home);
    EXECUTE format('DROP SCHEMA %I', load_schema);
    EXECUTE format('ALTER TABLE %I.%I ATTACH PARTITION %I.%I FOR VALUES IN (%s)',
                   home, format('claim_records_t%s', tenant), home, part, upload);
END;
$$;

-- An upload's claims are found under its tenant only.
CREATE OR REPLACE FUNCTION uploads_protect_claims() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM claim_records
               WHERE customer_id = OLD.customer_id AND upload_id = OLD.id) THEN
        RAISE EXCEPTION 'upload % still has claims', OLD.id
            USING ERRCODE = 'foreign_key_violation';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END;
$$;

-- The claims stored so far, into their tenants' shared partitions.
DO $$
DECLARE
    tenant BIGINT;
BEGIN
    FOR tenant IN SELECT DISTINCT customer_id FROM claim_records_unpartitioned LOOP
        PERFORM claim_records_tenant_partition(tenant);
    END LOOP;
END;
$$;
INSERT INTO claim_records (id, customer_id, upload_id, payer_raw, payer, cpt, cpt_group,
    submitted_date, decided_date, decision_days, outcome, allowed_cents, denial_reason_code,
    denial_reason_text, payer_id, modifiers, remark_codes, adjustments, claim_key,
    svc_segment, reversed_by)
SELECT id, customer_id, upload_id, payer_raw, payer, cpt, cpt_group, submitted_date,
    decided_date, decision_days, outcome, allowed_cents, denial_reason_code,
    denial_reason_text, payer_id, modifiers, remark_codes, adjustments, claim_key,
    svc_segment, reversed_by
FROM claim_records_unpartitioned;
DROP TABLE claim_records_unpartitioned;

-- The key, indexes and insert check after the carry-over: each index is built once per
-- partition, sorted, instead of row by row (the stored claims were checked when stored).
-- A partitioned table's key holds its partition columns; (upload_id, id) still
-- identifies a claim (customer and segment follow from the upload).
ALTER TABLE claim_records
    ADD CONSTRAINT claim_records_pkey PRIMARY KEY (upload_id, id, customer_id, segment);
CREATE INDEX claims_customer_decided_cover_idx ON claim_records (customer_id, decided_date)
    INCLUDE (payer, cpt_group, outcome, decision_days, submitted_date, allowed_cents, denial_reason_code);
CREATE INDEX claims_reversed_by_idx ON claim_records (reversed_by) WHERE reversed_by IS NOT NULL;
CREATE TRIGGER claim_records_uploads_exist
    AFTER INSERT ON claim_records
    REFERENCING NEW TABLE AS new_claims
    FOR EACH STATEMENT EXECUTE FUNCTION claim_records_check_uploads();
