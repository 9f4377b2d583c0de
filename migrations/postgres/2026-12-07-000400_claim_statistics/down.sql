DROP FUNCTION claim_records_refresh_statistics(BIGINT, BIGINT, BIGINT);
