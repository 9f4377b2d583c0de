-- Personal API tokens (issue 18): only the SHA-256 of the secret is stored; the prefix
-- (first characters of the token) is kept to tell tokens apart on the tokens page.
-- A token acts with min(owner's current role, role_cap), evaluated on every request.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    role_cap TEXT NOT NULL CHECK (role_cap IN ('viewer', 'analyst', 'admin', 'owner')),
    expires_at TIMESTAMP NOT NULL,
    last_used_at TIMESTAMP NULL,
    revoked_at TIMESTAMP NULL,
    revoked_by BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL
);
CREATE INDEX api_tokens_customer_idx ON api_tokens (customer_id, id);
CREATE INDEX api_tokens_user_idx ON api_tokens (user_id);
