DROP TRIGGER alert_events_alert_version ON alert_events;
DROP TRIGGER alert_status_history_alert_version ON alert_status_history;
DROP TRIGGER alert_current_status_alert_version ON alert_current_status;
DROP TRIGGER alert_judgments_alert_version ON alert_judgments;
DROP TRIGGER alert_comments_alert_version ON alert_comments;
DROP TRIGGER users_alert_version ON users;
DROP TRIGGER saved_filters_alert_version ON saved_filters;
DROP FUNCTION payerwatch_bump_alert_version();
DROP TABLE alert_versions;
