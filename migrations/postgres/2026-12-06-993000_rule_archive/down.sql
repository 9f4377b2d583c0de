DROP TRIGGER alert_rules_no_delete ON alert_rules;
DROP FUNCTION payerwatch_refuse_rule_delete();
ALTER TABLE alert_rules DROP COLUMN archived_at;
