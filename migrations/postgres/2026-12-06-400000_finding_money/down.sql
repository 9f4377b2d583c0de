ALTER TABLE drift_events DROP COLUMN dollars_per_month;
