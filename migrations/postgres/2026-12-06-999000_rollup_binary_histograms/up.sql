-- Day rollups store their decision-day histogram as bytes, not text (issue 21, drift50m;
-- docs/decisions.md "Binary day histograms"): `entries` is one width byte w (4 or 8),
-- then per decision-days value seven little-endian signed integers of w bytes — days,
-- paid, denied, other, paid cents, denied cents, other cents — ascending by days
-- (`db::repo::rollups::encode_entries`). A run reads ≈ 5,000 of these rows; as text at
-- 50M claims they were ≈ 8 MB that the client parsed digit by digit (a third of the
-- run's instructions, docs/performance.md).
--
-- The text rows move aside and `db::migrations` converts them in Rust (decode the text,
-- encode the bytes: the same histograms, no recomputation from claims), then drops
-- claim_day_rollups_text. It converts whenever that table exists, so an interrupted
-- conversion is finished on the next start.
ALTER TABLE claim_day_rollups RENAME TO claim_day_rollups_text;
ALTER INDEX claim_day_rollups_pkey RENAME TO claim_day_rollups_text_pkey;

-- Rows of up to ≈ 8 KB stay in the table page, uncompressed (toast_tuple_target), and a
-- longer histogram goes to TOAST uncompressed (STORAGE EXTERNAL): as claims per day grow
-- past 50M (rows of ≈ 1.7 KB there), the bytes are still read as stored, never
-- decompressed on every run.
CREATE TABLE claim_day_rollups (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    decided_date DATE NOT NULL,
    payer TEXT NOT NULL,
    cpt_group TEXT NOT NULL,
    entries BYTEA NOT NULL,
    PRIMARY KEY (customer_id, decided_date, payer, cpt_group)
) WITH (toast_tuple_target = 8160);
ALTER TABLE claim_day_rollups ALTER COLUMN entries SET STORAGE EXTERNAL;
