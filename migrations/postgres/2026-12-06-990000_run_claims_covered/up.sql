-- SPEC §9 "a run reports 'claims covered'" (issue 21): the claims a report run's windows
-- covered — every counted claim (REVERSED ones are not) whose date by the run's mode
-- (decided: sound, submitted: compat) falls in [the earliest window's start, as_of),
-- counted from the daily rollups. NULL for runs recorded before it and failed runs.
ALTER TABLE report_runs ADD COLUMN claims_covered BIGINT;
