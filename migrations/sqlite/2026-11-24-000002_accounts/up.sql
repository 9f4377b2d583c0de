-- Accounts: login throttling and one-time set-password links.

-- Failed logins, counted per account (hashed e-mail) and per client address (hashed)
-- over a sliding window; kept in the database so limits hold across instances.
CREATE TABLE login_failures (
    id INTEGER PRIMARY KEY,
    scope TEXT NOT NULL CHECK (scope IN ('account', 'address')),
    key_hash TEXT NOT NULL,
    failed_at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_key_idx ON login_failures (scope, key_hash, failed_at);
CREATE INDEX login_failures_time_idx ON login_failures (failed_at);

-- Invitation and reset links: only the SHA-256 of the token is stored.
CREATE TABLE password_tokens (
    id INTEGER PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token_hash TEXT NOT NULL UNIQUE,
    purpose TEXT NOT NULL CHECK (purpose IN ('invite', 'reset')),
    created_by BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP NULL
);
CREATE INDEX password_tokens_user_idx ON password_tokens (user_id);
