-- Notification channels (e-mail, Slack, webhook), the delivery queue (one delivery per
-- alert and channel) and every delivery attempt.

CREATE TABLE notification_channels (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('email', 'slack', 'webhook')),
    -- What may be shown again: recipients, the webhook URL, Slack's host.
    target TEXT NOT NULL,
    -- Non-secret settings (SMTP host, port, TLS mode, sender, user name; signature scheme).
    settings_json TEXT NOT NULL,
    -- Sealed with the instance key: webhook secret, Slack URL, SMTP password. Never shown.
    secret_sealed TEXT NULL,
    enabled BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX notification_channels_customer_idx ON notification_channels (customer_id, id);

CREATE TABLE deliveries (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    -- NULL for a channel's test message.
    alert_id BIGINT NULL REFERENCES alert_events (id) ON DELETE RESTRICT,
    channel_id BIGINT NOT NULL REFERENCES notification_channels (id) ON DELETE RESTRICT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    -- Attempts since the delivery was (re)queued; drives the backoff.
    attempts BIGINT NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMP NOT NULL,
    -- A worker's claim; a claim that outlives it (crash) is taken over.
    locked_until TIMESTAMP NULL,
    last_status_code BIGINT NULL,
    last_error TEXT NULL,
    delivered_at TIMESTAMP NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    UNIQUE (alert_id, channel_id)
);
CREATE INDEX deliveries_due_idx ON deliveries (status, next_attempt_at);
CREATE INDEX deliveries_channel_idx ON deliveries (channel_id, id);
CREATE INDEX deliveries_customer_idx ON deliveries (customer_id, id);

CREATE TABLE delivery_attempts (
    id BIGSERIAL PRIMARY KEY,
    delivery_id BIGINT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt_number BIGINT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    latency_ms BIGINT NOT NULL,
    status_code BIGINT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('delivered', 'error')),
    -- Never a secret or a URL's query string; at most 300 characters.
    error TEXT NULL
);
CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, id);
