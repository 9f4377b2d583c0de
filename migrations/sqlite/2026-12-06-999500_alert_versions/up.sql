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

CREATE TRIGGER alert_events_alert_version_insert AFTER INSERT ON alert_events
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_status_history_alert_version_insert AFTER INSERT ON alert_status_history
BEGIN
    INSERT INTO alert_versions (customer_id, version)
    SELECT customer_id, 1 FROM alert_events WHERE id = NEW.alert_id
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_current_status_alert_version_insert AFTER INSERT ON alert_current_status
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_current_status_alert_version_update AFTER UPDATE ON alert_current_status
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_current_status_alert_version_delete AFTER DELETE ON alert_current_status
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (OLD.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_judgments_alert_version_insert AFTER INSERT ON alert_judgments
BEGIN
    INSERT INTO alert_versions (customer_id, version)
    SELECT customer_id, 1 FROM alert_events WHERE id = NEW.alert_id
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_judgments_alert_version_update AFTER UPDATE ON alert_judgments
BEGIN
    INSERT INTO alert_versions (customer_id, version)
    SELECT customer_id, 1 FROM alert_events WHERE id = NEW.alert_id
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_judgments_alert_version_delete AFTER DELETE ON alert_judgments
BEGIN
    INSERT INTO alert_versions (customer_id, version)
    SELECT customer_id, 1 FROM alert_events WHERE id = OLD.alert_id
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_comments_alert_version_insert AFTER INSERT ON alert_comments
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_comments_alert_version_update AFTER UPDATE ON alert_comments
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER alert_comments_alert_version_delete AFTER DELETE ON alert_comments
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (OLD.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER users_alert_version_insert AFTER INSERT ON users
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER users_alert_version_update AFTER UPDATE OF email, role, is_active ON users
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER users_alert_version_delete AFTER DELETE ON users
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (OLD.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER saved_filters_alert_version_insert AFTER INSERT ON saved_filters
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER saved_filters_alert_version_update AFTER UPDATE ON saved_filters
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (NEW.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;

CREATE TRIGGER saved_filters_alert_version_delete AFTER DELETE ON saved_filters
BEGIN
    INSERT INTO alert_versions (customer_id, version) VALUES (OLD.customer_id, 1)
    ON CONFLICT (customer_id) DO UPDATE SET version = version + 1;
END;
