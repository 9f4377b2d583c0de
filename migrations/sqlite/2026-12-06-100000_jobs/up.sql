-- Durable work (issue 14, SPEC §9a): uploads and analytics runs are jobs, claimed with a
-- lease that a heartbeat renews; a lease that runs out means its process died.
CREATE TABLE jobs (
    id INTEGER PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    kind TEXT NOT NULL CHECK (kind IN ('upload', 'analytics')),
    -- the upload an upload job processes (its page shows the job's state)
    upload_id BIGINT NULL REFERENCES uploads (id) ON DELETE CASCADE,
    payload TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed')),
    attempts BIGINT NOT NULL DEFAULT 0,
    run_after TIMESTAMP NOT NULL,
    lease_owner TEXT NULL,
    lease_expires_at TIMESTAMP NULL,
    error TEXT NULL,
    -- an upload job's analytics request (the analytics job its claims wait for)
    follow_up_job_id BIGINT NULL,
    created_at TIMESTAMP NOT NULL,
    started_at TIMESTAMP NULL,
    finished_at TIMESTAMP NULL
);
CREATE INDEX jobs_due_idx ON jobs (state, run_after, id);
CREATE INDEX jobs_upload_idx ON jobs (upload_id);
-- Analytics requests coalesce: at most one queued request per tenant.
CREATE UNIQUE INDEX jobs_one_queued_analytics ON jobs (customer_id)
    WHERE kind = 'analytics' AND state = 'queued';

-- A report run's liveness: a run whose lease ran out was interrupted and holds nothing.
ALTER TABLE report_runs ADD COLUMN lease_expires_at TIMESTAMP NULL;
-- The analytics job that made the run (NULL: `compute`).
ALTER TABLE report_runs ADD COLUMN job_id BIGINT NULL;
CREATE INDEX report_runs_job_idx ON report_runs (job_id);
