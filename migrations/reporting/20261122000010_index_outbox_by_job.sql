-- A job's messages, newest first: the trace context a take-over by the sweeper continues (and
-- the rows a deleted job cascades to).
CREATE INDEX outbox_job_idx ON outbox (job_id, id);
