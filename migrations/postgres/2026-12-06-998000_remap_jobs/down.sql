DROP INDEX jobs_customer_kind_idx;
DELETE FROM jobs WHERE kind = 'remap';
ALTER TABLE jobs DROP CONSTRAINT jobs_kind_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_kind_check CHECK (kind IN ('upload', 'analytics'));
