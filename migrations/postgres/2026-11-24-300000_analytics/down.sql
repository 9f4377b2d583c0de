DROP TABLE drift_events;
DROP TABLE report_runs;
