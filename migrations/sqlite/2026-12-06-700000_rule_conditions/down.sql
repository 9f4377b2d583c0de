ALTER TABLE alert_rules DROP COLUMN min_days_delta;
ALTER TABLE alert_rules DROP COLUMN min_rate_delta_points;
ALTER TABLE alert_rules DROP COLUMN min_dollars_per_month;
ALTER TABLE alert_rules DROP COLUMN min_severity;
