-- Soft lockout (issue 16): failures are also counted per account + client network.
-- SQLite cannot alter a CHECK: rebuild the table (its rows are throttle counters only).
CREATE TABLE login_failures_new (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('account', 'address', 'pair')),
    key_hash TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
INSERT INTO login_failures_new (id, scope, key_hash, failed_at)
    SELECT id, scope, key_hash, failed_at FROM login_failures;
DROP TABLE login_failures;
ALTER TABLE login_failures_new RENAME TO login_failures;
CREATE INDEX login_failures_key_idx ON login_failures (scope, key_hash, failed_at);
CREATE INDEX login_failures_time_idx ON login_failures (failed_at);
