-- Report jobs. `attempts` counts started attempts and is the fencing token: a worker may only
-- change a running job whose `attempts` still equals the attempt it claimed.
CREATE TABLE jobs (
    id                    uuid        PRIMARY KEY,
    owner_id              uuid        NOT NULL,
    owner_username        text        NOT NULL,
    kind                  text        NOT NULL,
    params                jsonb       NOT NULL,
    state                 text        NOT NULL DEFAULT 'queued',
    attempts              integer     NOT NULL DEFAULT 0,
    max_attempts          integer     NOT NULL,
    progress              integer     NOT NULL DEFAULT 0,
    cancel_requested      boolean     NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    started_at            timestamptz,
    finished_at           timestamptz,
    next_attempt_at       timestamptz,
    lease_expires_at      timestamptz,
    error_kind            text,
    error_message         text,
    artifact_key          text,
    artifact_size         bigint,
    artifact_sha256       text,
    artifact_content_type text,
    CONSTRAINT jobs_kind_check CHECK (kind IN ('project', 'user_monthly')),
    CONSTRAINT jobs_state_check CHECK (
        state IN ('queued', 'running', 'retrying', 'succeeded', 'failed', 'cancelled')),
    CONSTRAINT jobs_progress_check CHECK (progress BETWEEN 0 AND 100)
);

-- "My jobs, newest first" and the admin's "all jobs".
CREATE INDEX jobs_owner_created_idx ON jobs (owner_id, created_at DESC, id DESC);
CREATE INDEX jobs_created_idx ON jobs (created_at DESC, id DESC);
-- The lease sweeper and the stats look only at unfinished jobs.
CREATE INDEX jobs_unfinished_idx ON jobs (state, lease_expires_at)
    WHERE state IN ('queued', 'running', 'retrying');

-- Every change of a job is announced, so `WatchJob` streams need no polling.
CREATE FUNCTION jobs_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('swatter_jobs', NEW.id::text);
    RETURN NEW;
END $$;
CREATE TRIGGER jobs_notify AFTER INSERT OR UPDATE ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_notify();

-- Transactional outbox: written in the same transaction as the job change it announces, published
-- by the relay with publisher confirms, then marked sent. `not_before` delays retries.
CREATE TABLE outbox (
    id            bigserial   PRIMARY KEY,
    job_id        uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    attempt       integer     NOT NULL,
    -- 'work' (the work queue) or 'dead' (the dead-letter queue).
    destination   text        NOT NULL DEFAULT 'work',
    not_before    timestamptz NOT NULL DEFAULT now(),
    trace_context jsonb       NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz,
    CONSTRAINT outbox_destination_check CHECK (destination IN ('work', 'dead'))
);

CREATE INDEX outbox_pending_idx ON outbox (not_before, id) WHERE sent_at IS NULL;

CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('swatter_outbox', '');
    RETURN NULL;
END $$;
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- Idempotency keys of report requests, per user.
CREATE TABLE idempotency_keys (
    owner_id     uuid        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    job_id       uuid        NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (owner_id, key)
);
