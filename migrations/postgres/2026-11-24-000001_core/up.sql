-- Core schema: tenants, people, sessions, uploads, claims, mappings, audit.
-- Timestamps are UTC without time zone; money is integer cents.

CREATE TABLE customers (
    id BIGSERIAL PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    analytics_mode TEXT NOT NULL DEFAULT 'sound' CHECK (analytics_mode IN ('sound', 'compat')),
    created_at TIMESTAMP NOT NULL
);

CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    -- stored trimmed and lower-cased, so UNIQUE is case-insensitive
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'analyst', 'admin', 'owner')),
    is_staff BOOLEAN NOT NULL DEFAULT FALSE,
    is_active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    password_changed_at TIMESTAMP NOT NULL,
    last_login_at TIMESTAMP NULL
);
CREATE INDEX users_customer_idx ON users (customer_id);

CREATE TABLE sessions (
    key_hash TEXT PRIMARY KEY,
    user_id BIGINT NULL REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    refreshed_at TIMESTAMP NOT NULL,
    expires_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);
CREATE INDEX sessions_user_idx ON sessions (user_id);

CREATE TABLE uploads (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    uploaded_by BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    file_name TEXT NOT NULL,
    -- NULL until the file is accepted; failed uploads keep NULL so a corrected
    -- re-upload of the same bytes is not refused as a duplicate.
    sha256 TEXT NULL,
    size_bytes BIGINT NOT NULL DEFAULT 0,
    status TEXT NOT NULL CHECK (status IN ('processing', 'succeeded', 'partial', 'failed')),
    total_rows BIGINT NOT NULL DEFAULT 0,
    accepted_rows BIGINT NOT NULL DEFAULT 0,
    rejected_rows BIGINT NOT NULL DEFAULT 0,
    warning_rows BIGINT NOT NULL DEFAULT 0,
    -- hundredths of a percent: 9512 means 95.12
    quality_score_centi BIGINT NULL,
    message TEXT NULL,
    duplicate_of BIGINT NULL REFERENCES uploads (id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NULL
);
CREATE INDEX uploads_customer_created_idx ON uploads (customer_id, created_at);
CREATE INDEX uploads_customer_status_idx ON uploads (customer_id, status);
CREATE UNIQUE INDEX uploads_customer_sha256_key ON uploads (customer_id, sha256);

-- Report and rejections go with their upload (only uploads without claims can be deleted).
CREATE TABLE upload_reports (
    upload_id BIGINT PRIMARY KEY REFERENCES uploads (id) ON DELETE CASCADE,
    report_json TEXT NOT NULL
);

CREATE TABLE upload_rejections (
    id BIGSERIAL PRIMARY KEY,
    upload_id BIGINT NOT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    row_number BIGINT NOT NULL,
    column_name TEXT NOT NULL,
    reason TEXT NOT NULL
);
CREATE INDEX upload_rejections_upload_idx ON upload_rejections (upload_id, row_number);

CREATE TABLE claim_records (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    -- PROTECT: an upload cannot be deleted while its claims exist
    upload_id BIGINT NOT NULL REFERENCES uploads (id) ON DELETE RESTRICT,
    payer_raw TEXT NOT NULL,
    payer TEXT NOT NULL,
    cpt TEXT NOT NULL,
    cpt_group TEXT NOT NULL,
    submitted_date DATE NOT NULL,
    decided_date DATE NOT NULL,
    decision_days INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    allowed_cents BIGINT NULL,
    denial_reason_code TEXT NULL,
    denial_reason_text TEXT NULL
);
CREATE INDEX claims_customer_decided_idx ON claim_records (customer_id, decided_date);
CREATE INDEX claims_customer_payer_decided_idx ON claim_records (customer_id, payer, decided_date);
CREATE INDEX claims_customer_group_decided_idx ON claim_records (customer_id, cpt_group, decided_date);
CREATE INDEX claims_customer_outcome_idx ON claim_records (customer_id, outcome);
CREATE INDEX claims_upload_idx ON claim_records (upload_id);

CREATE TABLE payer_aliases (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    -- trimmed, inner whitespace collapsed, lower-cased
    alias_key TEXT NOT NULL,
    alias TEXT NOT NULL,
    canonical TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (customer_id, alias_key)
);

-- CPT code ranges (an exact code is a range of one); the narrowest match wins.
CREATE TABLE cpt_groups (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    code_start TEXT NOT NULL,
    code_end TEXT NOT NULL,
    group_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    UNIQUE (customer_id, code_start, code_end)
);

CREATE TABLE audit_events (
    id BIGSERIAL PRIMARY KEY,
    occurred_at TIMESTAMP NOT NULL,
    customer_id BIGINT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    actor_user_id BIGINT NULL REFERENCES users (id) ON DELETE SET NULL,
    action TEXT NOT NULL,
    target_type TEXT NULL,
    target_id TEXT NULL,
    -- names of changed fields, comma separated; never values
    changed_fields TEXT NULL,
    client_addr TEXT NULL,
    request_id TEXT NULL
);
CREATE INDEX audit_customer_time_idx ON audit_events (customer_id, occurred_at);
CREATE INDEX audit_customer_action_idx ON audit_events (customer_id, action, occurred_at);
