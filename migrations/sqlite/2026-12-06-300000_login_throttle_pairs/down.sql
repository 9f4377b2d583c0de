CREATE TABLE login_failures_old (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    key_hash TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
INSERT INTO login_failures_old (id, scope, key_hash, failed_at)
    SELECT id, scope, key_hash, failed_at FROM login_failures WHERE scope <> 'pair';
DROP TABLE login_failures;
ALTER TABLE login_failures_old RENAME TO login_failures;
CREATE INDEX login_failures_key_idx ON login_failures (scope, key_hash, failed_at);
CREATE INDEX login_failures_time_idx ON login_failures (failed_at);
