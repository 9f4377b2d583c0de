-- The alert version (2026-12-06-999500) moves at commit, not at each write: its triggers
-- become deferred constraint triggers. An immediate trigger locked the tenant's version
-- row at a transaction's first alert write and held it to the end, so two people working
-- overlapping alerts at once could deadlock on PostgreSQL (a bulk action holding the
-- version row and waiting for an alert row that a single assignment held while waiting
-- for the version row: error 40P01 for one of them). Deferred, the version row is locked
-- last, when nothing else is waited for; it still moves in the same transaction as the
-- write, so a cached page is never newer than its version. SQLite writes one transaction
-- at a time and keeps its triggers.
CREATE OR REPLACE FUNCTION payerwatch_bump_alert_version() RETURNS trigger AS $$
DECLARE
    tenant BIGINT;
BEGIN
    IF TG_ARGV[0] = 'via_alert' THEN
        IF TG_OP = 'DELETE' THEN
            SELECT customer_id INTO tenant FROM alert_events WHERE id = OLD.alert_id;
        ELSE
            SELECT customer_id INTO tenant FROM alert_events WHERE id = NEW.alert_id;
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        tenant := OLD.customer_id;
    ELSE
        tenant := NEW.customer_id;
    END IF;
    -- Runs at commit: a tenant deleted later in the same transaction has no version.
    IF tenant IS NOT NULL THEN
        INSERT INTO alert_versions (customer_id, version)
        SELECT tenant, 1 WHERE EXISTS (SELECT 1 FROM customers WHERE id = tenant)
        ON CONFLICT (customer_id) DO UPDATE SET version = alert_versions.version + 1;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

DROP TRIGGER alert_events_alert_version ON alert_events;
CREATE CONSTRAINT TRIGGER alert_events_alert_version AFTER INSERT ON alert_events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

DROP TRIGGER alert_status_history_alert_version ON alert_status_history;
CREATE CONSTRAINT TRIGGER alert_status_history_alert_version AFTER INSERT ON alert_status_history
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('via_alert');

DROP TRIGGER alert_current_status_alert_version ON alert_current_status;
CREATE CONSTRAINT TRIGGER alert_current_status_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_current_status
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

DROP TRIGGER alert_judgments_alert_version ON alert_judgments;
CREATE CONSTRAINT TRIGGER alert_judgments_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_judgments
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('via_alert');

DROP TRIGGER alert_comments_alert_version ON alert_comments;
CREATE CONSTRAINT TRIGGER alert_comments_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_comments
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

DROP TRIGGER users_alert_version ON users;
CREATE CONSTRAINT TRIGGER users_alert_version AFTER INSERT OR UPDATE OF email, role, is_active OR DELETE ON users
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

DROP TRIGGER saved_filters_alert_version ON saved_filters;
CREATE CONSTRAINT TRIGGER saved_filters_alert_version AFTER INSERT OR UPDATE OR DELETE ON saved_filters
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');
