DROP TRIGGER alert_rules_no_delete;
ALTER TABLE alert_rules DROP COLUMN archived_at;
