-- Money at stake per 30 days of a sound-mode finding (ANALYTICS.md "Money per finding"):
-- what the overview and the feeds sort by. NULL for compat findings and for claims files
-- without amounts.
ALTER TABLE drift_events ADD COLUMN dollars_per_month DOUBLE PRECISION NULL;
