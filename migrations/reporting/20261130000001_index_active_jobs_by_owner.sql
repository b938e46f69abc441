-- Counting a user's jobs in flight (the per-user limit) reads only their unfinished jobs.
CREATE INDEX jobs_owner_unfinished_idx ON jobs (owner_id)
    WHERE state IN ('queued', 'running', 'retrying');
