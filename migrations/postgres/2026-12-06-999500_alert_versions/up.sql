-- Issue 21 item 4: a per-tenant version of what the alert pages show, moved by a trigger
-- in the transaction of every write to it, whichever code writes: alerts raised, status
-- changes, judgments, assignments and due dates, comments, the tenant's members (their
-- e-mail, role and whether active: names and the assignee choices on the pages) and saved
-- alert-list filters. The alert list, an alert's page and the payer scorecards cache their
-- data per version (`db::repo::page_versions`, `web::caches::pages`), so a change is
-- visible on the next request. Deliveries are not covered: the alert page reads them per
-- request. Nothing deletes alerts or their history (triggers refuse it).
CREATE TABLE alert_versions (
    customer_id BIGINT PRIMARY KEY NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    version BIGINT NOT NULL
);

-- One function for every table: the tenant is the row's, or its alert's for the tables
-- without a customer_id (status history, judgments).
CREATE FUNCTION payerwatch_bump_alert_version() RETURNS trigger AS $$
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

CREATE TRIGGER alert_events_alert_version AFTER INSERT ON alert_events
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

CREATE TRIGGER alert_status_history_alert_version AFTER INSERT ON alert_status_history
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('via_alert');

CREATE TRIGGER alert_current_status_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_current_status
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

CREATE TRIGGER alert_judgments_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_judgments
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('via_alert');

CREATE TRIGGER alert_comments_alert_version AFTER INSERT OR UPDATE OR DELETE ON alert_comments
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

CREATE TRIGGER users_alert_version AFTER INSERT OR UPDATE OF email, role, is_active OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');

CREATE TRIGGER saved_filters_alert_version AFTER INSERT OR UPDATE OR DELETE ON saved_filters
    FOR EACH ROW EXECUTE FUNCTION payerwatch_bump_alert_version('direct');
