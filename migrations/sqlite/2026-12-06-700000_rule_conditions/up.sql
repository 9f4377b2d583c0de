-- Sound-mode alert rules in words (ANALYTICS.md "Alerts", issue 17 item 4): a minimum
-- severity label and optional money / size conditions, all of which must hold. NULL = not
-- a condition. Rules with no min_severity keep the old metric/comparison/threshold form.
ALTER TABLE alert_rules ADD COLUMN min_severity TEXT NULL;
ALTER TABLE alert_rules ADD COLUMN min_dollars_per_month DOUBLE NULL;
ALTER TABLE alert_rules ADD COLUMN min_rate_delta_points DOUBLE NULL;
ALTER TABLE alert_rules ADD COLUMN min_days_delta DOUBLE NULL;
