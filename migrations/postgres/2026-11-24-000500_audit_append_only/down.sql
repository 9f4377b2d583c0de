DROP FUNCTION IF EXISTS purge_audit_events(TIMESTAMP);
DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events;
DROP TRIGGER IF EXISTS audit_events_append_only ON audit_events;
DROP FUNCTION IF EXISTS audit_events_refuse_change();
