DROP INDEX report_runs_job_idx;
ALTER TABLE report_runs DROP COLUMN job_id;
ALTER TABLE report_runs DROP COLUMN lease_expires_at;
DROP TABLE jobs;
