-- Team workflow on alerts (issue 19 item 3). The alert and its history stay
-- append-only; who works an alert and by when is its mutable working state, kept beside
-- its current status (one row per alert, written in the same transactions).
ALTER TABLE alert_current_status ADD COLUMN assignee_user_id BIGINT NULL REFERENCES users (id);
ALTER TABLE alert_current_status ADD COLUMN due_on DATE NULL;
CREATE INDEX alert_current_status_assignee ON alert_current_status (customer_id, assignee_user_id);

-- Comments are append-only too: what someone said stays said (the audit row names them).
CREATE TABLE alert_comments (
    id INTEGER PRIMARY KEY,
    alert_id BIGINT NOT NULL REFERENCES alert_events (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    body TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX alert_comments_alert ON alert_comments (alert_id, id);

-- A person's named views of a list: the list's query string, replayed as a link.
CREATE TABLE saved_filters (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    page TEXT NOT NULL CHECK (page IN ('alerts')),
    name TEXT NOT NULL,
    query TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, page, name)
);

-- Opt-in daily digest: a row per person who asked for it.
CREATE TABLE alert_digest_subscriptions (
    user_id BIGINT PRIMARY KEY REFERENCES users (id),
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    created_at TIMESTAMP NOT NULL
);

-- One digest per person per day (the UNIQUE makes queueing idempotent across workers);
-- the alerts it lists are fixed when it is queued, so a retry sends the same mail.
CREATE TABLE alert_digests (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    user_id BIGINT NOT NULL REFERENCES users (id),
    digest_on DATE NOT NULL,
    alert_ids TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (user_id, digest_on)
);

-- A digest travels through the delivery queue like an alert (retries, attempt log).
-- No foreign key: digests are never deleted, and SQLite cannot drop a foreign-key
-- column when the migration is reverted.
ALTER TABLE deliveries ADD COLUMN digest_id BIGINT NULL;
