ALTER TABLE deliveries DROP COLUMN digest_id;
DROP TABLE alert_digests;
DROP TABLE alert_digest_subscriptions;
DROP TABLE saved_filters;
DROP TABLE alert_comments;
DROP INDEX alert_current_status_assignee;
-- SQLite cannot drop a foreign-key column: rebuild the table as it was.
CREATE TABLE alert_current_status_before (
    alert_id INTEGER PRIMARY KEY REFERENCES alert_events (id),
    customer_id BIGINT NOT NULL,
    status TEXT NOT NULL
);
INSERT INTO alert_current_status_before (alert_id, customer_id, status)
SELECT alert_id, customer_id, status FROM alert_current_status;
DROP TABLE alert_current_status;
ALTER TABLE alert_current_status_before RENAME TO alert_current_status;
CREATE INDEX alert_current_status_customer ON alert_current_status (customer_id, status);
