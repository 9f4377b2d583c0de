-- Back to the immediate triggers of 2026-12-06-999500.
DROP TRIGGER alert_events_alert_version ON alert_events;
CREATE TRIGGER alert_events_alert_version AFTER INSERT ON alert_events
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

DROP TRIGGER alert_status_history_alert_version ON alert_status_history;
CREATE TRIGGER alert_status_history_alert_version AFTER INSERT ON alert_status_history
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('via_alert');

DROP TRIGGER alert_current_status_alert_version ON alert_current_status;
CREATE TRIGGER alert_current_status_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_current_status
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

DROP TRIGGER alert_judgments_alert_version ON alert_judgments;
CREATE TRIGGER alert_judgments_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_judgments
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('via_alert');

DROP TRIGGER alert_comments_alert_version ON alert_comments;
CREATE TRIGGER alert_comments_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_comments
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

DROP TRIGGER users_alert_version ON users;
CREATE TRIGGER users_alert_version AFTER INSERT OR UPDATE OF email, role, is_active OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

DROP TRIGGER saved_filters_alert_version ON saved_filters;
CREATE TRIGGER saved_filters_alert_version AFTER INSERT OR UPDATE OR DELETE ON saved_filters
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

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
    IF tenant IS NOT NULL THEN
        INSERT INTO alert_versions (customer_id, version) VALUES (tenant, 1)
        ON CONFLICT (customer_id) DO UPDATE SET version = alert_versions.version + 1;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
