-- "Re-map stored claims now" is a job (issue 19 follow-up): it commits in bounded steps
-- instead of holding the single writer for the whole tenant. SQLite cannot alter a CHECK:
-- rebuild the table (nothing references it), keeping every row and index.
CREATE TABLE jobs_new (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    kind TEXT NOT NULL CHECK (kind IN ('upload', 'analytics', 'remap')),
    upload_id BIGINT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    run_after TIMESTAMP NOT NULL,
    lease_owner TEXT NULL,
    lease_expires_at TIMESTAMP NULL,
    error TEXT NULL,
    follow_up_job_id BIGINT NULL,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP NULL,
    finished_at TIMESTAMP NULL,
    progress_rows BIGINT NULL,
    progress_bytes BIGINT NULL
);
INSERT INTO jobs_new (id, customer_id, kind, upload_id, payload, state, attempts, run_after,
        lease_owner, lease_expires_at, error, follow_up_job_id, created_at, started_at,
        finished_at, progress_rows, progress_bytes)
    SELECT id, customer_id, kind, upload_id, payload, state, attempts, run_after,
        lease_owner, lease_expires_at, error, follow_up_job_id, created_at, started_at,
        finished_at, progress_rows, progress_bytes FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;
CREATE INDEX jobs_due_idx ON jobs (state, run_after, id);
CREATE INDEX jobs_upload_idx ON jobs (upload_id);
CREATE UNIQUE INDEX jobs_one_queued_analytics ON jobs (customer_id)
    WHERE kind = 'analytics' AND state = 'queued';
-- The mappings page shows the tenant's latest re-map.
CREATE INDEX jobs_customer_kind_idx ON jobs (customer_id, kind, id);
