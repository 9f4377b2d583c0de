-- Alert rules are edited in place or archived, never hard-deleted (SPEC §5, issue 19
-- item 8): an archived rule stops matching and is listed apart until restored. Alerts keep
-- pointing at the rule that raised them, so no row of alert_rules is ever deleted.
ALTER TABLE alert_rules ADD COLUMN archived_at TIMESTAMP NULL;
CREATE FUNCTION payerwatch_refuse_rule_delete() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'DELETE on alert_rules is not allowed: alert rules are archived, never deleted';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER alert_rules_no_delete BEFORE DELETE ON alert_rules
    FOR EACH ROW EXECUTE FUNCTION payerwatch_refuse_rule_delete();
