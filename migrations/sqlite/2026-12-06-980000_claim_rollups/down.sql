DROP TABLE claim_reason_rollups;
DROP TABLE claim_day_rollups;
