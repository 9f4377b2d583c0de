-- Each alert's current status (its newest alert_status_history row), kept beside the
-- immutable alert so the alert list filters, counts and pages in SQL (issue 16 row 10)
-- instead of loading every alert of the tenant. Written with each history row in the
-- same transaction (repo::alerts); alert_events and the history stay append-only.
CREATE TABLE alert_current_status (
    alert_id INTEGER PRIMARY KEY REFERENCES alert_events (id),
    customer_id BIGINT NOT NULL,
    status TEXT NOT NULL
);
INSERT INTO alert_current_status (alert_id, customer_id, status)
SELECT a.id, a.customer_id, COALESCE(
    (SELECT h.status FROM alert_status_history h
      WHERE h.alert_id = a.id ORDER BY h.id DESC LIMIT 1),
    a.initial_status)
FROM alert_events a;
CREATE INDEX alert_current_status_customer ON alert_current_status (customer_id, status);
