-- Day rollups store their decision-day histogram as bytes, not text (issue 21, drift50m;
-- docs/decisions.md "Binary day histograms"): `entries` is one width byte w (4 or 8),
-- then per decision-days value seven little-endian signed integers of w bytes — days,
-- paid, denied, other, paid cents, denied cents, other cents — ascending by days
-- (`db::repo::rollups::encode_entries`). A run reads ≈ 5,000 of these rows and no
-- longer parses their text digit by digit.
--
-- The text rows move aside and `db::migrations` converts them in Rust (decode the text,
-- encode the bytes: the same histograms, no recomputation from claims), then drops
-- claim_day_rollups_text. It converts whenever that table exists, so an interrupted
-- conversion is finished on the next start.
ALTER TABLE claim_day_rollups RENAME TO claim_day_rollups_text;

CREATE TABLE claim_day_rollups (
    customer_id BIGINT NOT NULL REFERENCES customers (id),
    decided_date DATE NOT NULL,
    payer TEXT NOT NULL,
    cpt_group TEXT NOT NULL,
    entries BLOB NOT NULL,
    PRIMARY KEY (customer_id, decided_date, payer, cpt_group)
) WITHOUT ROWID;
