-- The operator dashboard's data (docs/api.md, "Operator dashboard").
--
-- `workers`: one row per running worker process, written at start, at every heartbeat (with the
-- jobs it runs at that moment) and deleted at a clean shutdown. A worker that stops sending
-- heartbeats (killed, cut off) keeps its row: it shows as not alive after three of its intervals
-- and is pruned after an hour.
CREATE TABLE workers (
    id                 uuid        PRIMARY KEY,
    hostname           text        NOT NULL,
    started_at         timestamptz NOT NULL,
    last_heartbeat_at  timestamptz NOT NULL DEFAULT now(),
    heartbeat_interval interval    NOT NULL,
    concurrency        integer     NOT NULL,
    job_ids            uuid[]      NOT NULL DEFAULT '{}'
);

-- Job messages the work queue gave up on, moved here from the dead-letter queue by the API's
-- dead-letter consumer (insert committed, then ack: a redelivered message finds its row through
-- `message_key` and adds nothing). `job_id` has no foreign key: an unreadable message names no
-- job, and a dead letter outlives the job it names.
CREATE TABLE dead_letters (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    -- The AMQP message id (`<job id>:<attempt>`), or `sha256:<hex>` of the body without one.
    message_key      text        NOT NULL CONSTRAINT dead_letters_message_key_key UNIQUE,
    job_id           uuid,
    attempt          integer,
    -- `exhausted` (attempts used up), or the broker's reason: `rejected`, `delivery_limit`, ...
    reason           text        NOT NULL,
    dead_lettered_at timestamptz NOT NULL,
    -- The body as received (for unreadable messages), at most 4 KiB of it.
    payload          text        NOT NULL DEFAULT ''
);

CREATE INDEX dead_letters_newest ON dead_letters (dead_lettered_at DESC, id DESC);
-- The dashboard's failed list, most recently failed first.
CREATE INDEX jobs_recently_failed ON jobs (finished_at DESC) WHERE state = 'failed';
