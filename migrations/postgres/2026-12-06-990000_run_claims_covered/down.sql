ALTER TABLE report_runs DROP COLUMN claims_covered;
