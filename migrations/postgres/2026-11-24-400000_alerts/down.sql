DROP TABLE alert_judgments;
DROP TABLE alert_status_history;
DROP TABLE alert_events;
DROP FUNCTION payerwatch_refuse_change();
DROP TABLE alert_rules;
ALTER TABLE customers DROP COLUMN alert_cooldown_minutes;
