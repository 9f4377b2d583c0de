-- Upload progress from any instance (issue 14, Deliver 9): the worker's heartbeat writes
-- how far an upload job got with each lease renewal, so a page served by another instance
-- shows rows so far and a bar (bytes read / the file's size, which is in the payload).
-- NULL until the first renewal, and for jobs that report no progress (analytics).
ALTER TABLE jobs ADD COLUMN progress_rows BIGINT NULL;
ALTER TABLE jobs ADD COLUMN progress_bytes BIGINT NULL;
