-- Alert rules are edited in place or archived, never hard-deleted (SPEC §5, issue 19
-- item 8): an archived rule stops matching and is listed apart until restored. Alerts keep
-- pointing at the rule that raised them, so no row of alert_rules is ever deleted.
ALTER TABLE alert_rules ADD COLUMN archived_at TIMESTAMP NULL;
CREATE TRIGGER alert_rules_no_delete BEFORE DELETE ON alert_rules
BEGIN SELECT RAISE(ABORT, 'alert rules are archived, never deleted'); END;
