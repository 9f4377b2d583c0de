-- Alerts: rules, immutable alert events, their status history and operator judgments.

ALTER TABLE customers ADD COLUMN alert_cooldown_minutes BIGINT NOT NULL DEFAULT 240;

CREATE TABLE alert_rules (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    payer TEXT NULL,
    cpt_group TEXT NULL,
    product TEXT NULL,
    kind TEXT NULL,
    direction TEXT NULL,
    metric TEXT NOT NULL CHECK (metric IN ('severity', 'rate_delta', 'days_delta', 'quality_score')),
    comparison TEXT NOT NULL CHECK (comparison IN ('gt', 'gte', 'lt', 'lte', 'eq')),
    threshold DOUBLE PRECISION NOT NULL,
    channel_ids TEXT NOT NULL DEFAULT '',
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX alert_rules_customer_idx ON alert_rules (customer_id);

-- Immutable once written: the current status is the newest history row.
CREATE TABLE alert_events (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    -- A finding's alert names its drift event; a data-quality alert names its upload
    -- (no foreign key: the alert outlives a deleted claimless upload).
    drift_event_id BIGINT NULL REFERENCES drift_events (id) ON DELETE RESTRICT,
    upload_id BIGINT NULL,
    rule_id BIGINT NOT NULL REFERENCES alert_rules (id) ON DELETE RESTRICT,
    product TEXT NOT NULL,
    kind TEXT NOT NULL,
    payer TEXT NOT NULL,
    cpt_group TEXT NOT NULL,
    severity DOUBLE PRECISION NOT NULL,
    severity_label TEXT NOT NULL,
    title TEXT NOT NULL,
    payload_json TEXT NOT NULL,
    initial_status TEXT NOT NULL CHECK (initial_status IN ('open', 'suppressed')),
    suppression_json TEXT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (drift_event_id, rule_id),
    UNIQUE (upload_id, rule_id),
    CHECK ((drift_event_id IS NULL) <> (upload_id IS NULL))
);
CREATE INDEX alert_events_customer_created_idx ON alert_events (customer_id, created_at);
CREATE INDEX alert_events_customer_severity_idx ON alert_events (customer_id, severity_label, initial_status);
CREATE INDEX alert_events_key_idx ON alert_events (customer_id, product, kind, payer, cpt_group, created_at);

CREATE TABLE alert_status_history (
    id BIGSERIAL PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alert_events (id) ON DELETE RESTRICT,
    status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved', 'suppressed')),
    actor_user_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX alert_status_history_alert_idx ON alert_status_history (alert_id, id);

CREATE TABLE alert_judgments (
    id BIGSERIAL PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alert_events (id) ON DELETE RESTRICT,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE RESTRICT,
    verdict TEXT NOT NULL CHECK (verdict IN ('real', 'noise', 'needs_follow_up')),
    note TEXT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (alert_id, user_id)
);

-- Nobody rewrites or removes an alert or its history.
CREATE FUNCTION payerwatch_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% on % is not allowed: alerts are immutable', TG_OP, TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER alert_events_immutable BEFORE UPDATE OR DELETE ON alert_events
    FOR EACH ROW EXECUTE FUNCTION payerwatch_refuse_change();
CREATE TRIGGER alert_status_history_immutable BEFORE UPDATE OR DELETE ON alert_status_history
    FOR EACH ROW EXECUTE FUNCTION payerwatch_refuse_change();
