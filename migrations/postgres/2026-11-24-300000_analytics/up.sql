-- Analytics: report runs and the events (findings) they create.

CREATE TABLE report_runs (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    product TEXT NOT NULL CHECK (product IN ('drift_watch', 'denial_scope', 'delay_guard')),
    mode TEXT NOT NULL CHECK (mode IN ('sound', 'compat')),
    status TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    trigger_source TEXT NOT NULL,
    as_of DATE NULL,
    parameters_json TEXT NOT NULL,
    started_at TIMESTAMP NOT NULL,
    finished_at TIMESTAMP NULL,
    rows_scanned BIGINT NOT NULL DEFAULT 0,
    groups_considered BIGINT NOT NULL DEFAULT 0,
    groups_insufficient BIGINT NOT NULL DEFAULT 0,
    events_created BIGINT NOT NULL DEFAULT 0,
    -- how many events each mode would raise on the same data: {"sound": n, "compat": m}
    comparison_json TEXT NULL,
    insufficient_json TEXT NULL,
    error_message TEXT NULL
);
CREATE INDEX report_runs_customer_idx ON report_runs (customer_id, product, started_at);
-- one run per tenant and product at a time
CREATE UNIQUE INDEX report_runs_one_running ON report_runs (customer_id, product) WHERE status = 'running';

CREATE TABLE drift_events (
    id BIGSERIAL PRIMARY KEY,
    customer_id BIGINT NOT NULL REFERENCES customers (id) ON DELETE RESTRICT,
    run_id BIGINT NOT NULL REFERENCES report_runs (id) ON DELETE RESTRICT,
    product TEXT NOT NULL,
    mode TEXT NOT NULL,
    kind TEXT NOT NULL,
    payer TEXT NOT NULL,
    -- CPT group (DriftWatch), reason (DenialScope), empty (DelayGuard)
    cpt_group TEXT NOT NULL,
    direction TEXT NOT NULL,
    baseline_value DOUBLE PRECISION NOT NULL,
    current_value DOUBLE PRECISION NOT NULL,
    delta DOUBLE PRECISION NOT NULL,
    ci_low DOUBLE PRECISION NULL,
    ci_high DOUBLE PRECISION NULL,
    p_value DOUBLE PRECISION NULL,
    q_value DOUBLE PRECISION NULL,
    severity DOUBLE PRECISION NOT NULL,
    severity_label TEXT NOT NULL,
    confidence DOUBLE PRECISION NULL,
    baseline_n BIGINT NOT NULL,
    current_n BIGINT NOT NULL,
    baseline_start DATE NOT NULL,
    baseline_end DATE NOT NULL,
    current_start DATE NOT NULL,
    current_end DATE NOT NULL,
    evidence_json TEXT NOT NULL,
    continuing BOOLEAN NOT NULL DEFAULT FALSE,
    first_event_id BIGINT NULL REFERENCES drift_events (id) ON DELETE RESTRICT,
    created_at TIMESTAMP NOT NULL
);
-- the same finding for the same window is stored once, however often it is recomputed
CREATE UNIQUE INDEX drift_events_window_key ON drift_events
    (customer_id, product, mode, kind, payer, cpt_group, current_start, current_end);
CREATE INDEX drift_events_customer_created_idx ON drift_events (customer_id, created_at);
CREATE INDEX drift_events_customer_kind_idx ON drift_events (customer_id, kind, created_at);
CREATE INDEX drift_events_run_idx ON drift_events (run_id);
