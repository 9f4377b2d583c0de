-- Back to the text histograms, empty: the bytes cannot be turned into text in SQL. Run
-- `payerwatch rollups --rebuild` with the older binary afterwards (it recomputes the
-- rollups from claims).
DROP TABLE IF EXISTS claim_day_rollups_text;
DROP TABLE claim_day_rollups;
CREATE TABLE claim_day_rollups (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    decided_date DATE NOT NULL,
    payer TEXT NOT NULL,
    cpt_group TEXT NOT NULL,
    days TEXT NOT NULL,
    PRIMARY KEY (customer_id, decided_date, payer, cpt_group)
) WITHOUT ROWID;
