-- Daily rollups of claim_records (issue 21, docs/decisions.md "Rollups"): the analytics
-- read these instead of claims, so a run costs days × groups of its windows, not claims.
-- Kept in the transaction of every change to claims (ingest, spelling merges, re-maps,
-- 835 reversals); `payerwatch rollups --verify` recomputes them from claims.
--
-- One row per tenant × decided day × canonical payer × CPT group; `days` is the
-- decision-day histogram of that cell, one entry per decision-days value:
-- `days:paid:denied:other:paid_cents:denied_cents:other_cents`, space separated,
-- ascending. A claim's submitted date is decided − days, so the same rows answer the
-- compat mode's submitted-date windows. REVERSED claims are not counted.
CREATE TABLE claim_day_rollups (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    decided_date DATE NOT NULL,
    payer TEXT NOT NULL,
    cpt_group TEXT NOT NULL,
    days TEXT NOT NULL,
    PRIMARY KEY (customer_id, decided_date, payer, cpt_group)
) WITHOUT ROWID;

-- Denied claims per tenant × day × canonical payer × reason (the DenialScope key:
-- code, else text, else UNSPECIFIED), twice: `basis` 'd' by decided date (sound mode),
-- 's' by submitted date (compat mode).
CREATE TABLE claim_reason_rollups (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    basis TEXT NOT NULL,
    day DATE NOT NULL,
    payer TEXT NOT NULL,
    reason TEXT NOT NULL,
    denied BIGINT NOT NULL,
    denied_cents BIGINT NOT NULL,
    PRIMARY KEY (customer_id, basis, day, payer, reason)
) WITHOUT ROWID;
