-- The audit trail is append-only (SPEC §7): UPDATE, DELETE and TRUNCATE of audit_events
-- are refused, except
--   * DELETE inside purge_audit_events(), the retention purge, which switches on the
--     transaction-local setting payerwatch.purge for its own duration;
--   * the foreign key's own ON DELETE SET NULL of actor_user_id when a user row is
--     deleted (every other column unchanged), so removing a person stays possible while
--     the event itself survives.

CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('payerwatch.purge', true) = 'on' THEN
        RETURN OLD;
    END IF;
    IF TG_OP = 'UPDATE'
       AND OLD.actor_user_id IS NOT NULL AND NEW.actor_user_id IS NULL
       AND (to_jsonb(NEW) - 'actor_user_id') = (to_jsonb(OLD) - 'actor_user_id') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();

CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- The retention purge: deletes events older than `cutoff` and returns how many went.
-- The SET clause scopes payerwatch.purge to this function call only.
CREATE FUNCTION purge_audit_events(cutoff TIMESTAMP) RETURNS BIGINT
LANGUAGE plpgsql
SET payerwatch.purge = 'on'
AS $$
DECLARE
    purged BIGINT;
BEGIN
    DELETE FROM audit_events WHERE occurred_at < cutoff;
    GET DIAGNOSTICS purged = ROW_COUNT;
    RETURN purged;
END;
$$;
