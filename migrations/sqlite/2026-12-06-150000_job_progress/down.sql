ALTER TABLE jobs DROP COLUMN progress_bytes;
ALTER TABLE jobs DROP COLUMN progress_rows;
