ALTER TABLE deliveries DROP COLUMN digest_id;
DROP TABLE alert_digests;
DROP TABLE alert_digest_subscriptions;
DROP TABLE saved_filters;
DROP TABLE alert_comments;
DROP INDEX alert_current_status_assignee;
ALTER TABLE alert_current_status DROP COLUMN due_on;
ALTER TABLE alert_current_status DROP COLUMN assignee_user_id;
