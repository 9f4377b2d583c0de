-- Invitations (issue 16 row 11): an invitation belongs to the inviting tenant only and
-- says nothing about accounts elsewhere. The user row is created when the invitee uses the
-- link, not when the admin invites, so the admin's answer cannot depend on whether the
-- address has an account in another tenant. Only the SHA-256 of the token is stored.
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    email TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin', 'owner')),
    token_hash TEXT NOT NULL UNIQUE,
    created_by BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL,
    accepted_at TIMESTAMP NULL,
    accepted_user_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    revoked_at TIMESTAMP NULL
);
CREATE INDEX invitations_customer_email_idx ON invitations (customer_id, email);
