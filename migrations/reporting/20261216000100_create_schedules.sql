-- Scheduled reports (docs/api.md, "Scheduled reports"): a report made at the due times of a cron
-- expression read in a time zone. `next_run_at` is the next due time, NULL while paused; the
-- schedulers of every replica claim due rows with `FOR UPDATE SKIP LOCKED`.
CREATE TABLE schedules (
    id             uuid        PRIMARY KEY,
    owner_id       uuid        NOT NULL,
    owner_username text        NOT NULL,
    name           text        NOT NULL DEFAULT '',
    -- {"kind": "project", "project_key": ..., "period_days": ...} or {"kind": "user_monthly"}.
    report         jsonb       NOT NULL,
    cron           text        NOT NULL,
    time_zone      text        NOT NULL,
    deliver_event  boolean     NOT NULL DEFAULT false,
    paused         boolean     NOT NULL DEFAULT false,
    next_run_at    timestamptz,
    last_run_at    timestamptz,
    last_job_id    uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedules_name_check CHECK (char_length(name) <= 100),
    CONSTRAINT schedules_cron_check CHECK (char_length(cron) BETWEEN 1 AND 100),
    CONSTRAINT schedules_report_check CHECK (report->>'kind' IN ('project', 'user_monthly')),
    CONSTRAINT schedules_next_run_check CHECK (paused = (next_run_at IS NULL))
);

-- The schedulers' due query: the running schedules by due time.
CREATE INDEX schedules_due_idx ON schedules (next_run_at) WHERE NOT paused;
-- "My schedules" (and counting them for the per-user limit).
CREATE INDEX schedules_owner_idx ON schedules (owner_id, paused, next_run_at, id);

-- The run a job was made for. A due time makes at most one job, whatever happens: the unique
-- index refuses a second (NULLs, the jobs asked for by hand, never collide).
ALTER TABLE jobs ADD COLUMN schedule_id uuid REFERENCES schedules (id) ON DELETE SET NULL;
ALTER TABLE jobs ADD COLUMN scheduled_for timestamptz;
CREATE UNIQUE INDEX jobs_schedule_run_idx ON jobs (schedule_id, scheduled_for);

-- `schedule.report_ready` / `schedule.report_failed`: written by a trigger in the transaction
-- that ends a scheduled job (succeeded or failed) whose schedule asks for delivery, next to the
-- `job.state_changed` row of the same change, and published by the same relay. `schedule` is the
-- schedule as it stood then.
ALTER TABLE job_event_outbox ADD COLUMN event_type text NOT NULL DEFAULT 'job.state_changed';
ALTER TABLE job_event_outbox ADD COLUMN schedule jsonb;

CREATE FUNCTION jobs_schedule_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    schedule jsonb;
BEGIN
    SELECT to_jsonb(s) INTO schedule FROM schedules s
    WHERE s.id = NEW.schedule_id AND s.deliver_event;
    IF schedule IS NOT NULL THEN
        INSERT INTO job_event_outbox (job, event_type, schedule)
        VALUES (to_jsonb(NEW),
                CASE NEW.state WHEN 'succeeded' THEN 'schedule.report_ready'
                               ELSE 'schedule.report_failed' END,
                schedule);
        PERFORM pg_notify('swatter_outbox', '');
    END IF;
    RETURN NULL;
END $$;

-- Named to sort after `jobs_state_created` / `jobs_state_changed`: triggers of one event fire in
-- name order, so the job's own state event is written (and published) first.
CREATE TRIGGER jobs_state_scheduled_created AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.schedule_id IS NOT NULL AND NEW.state IN ('succeeded', 'failed'))
    EXECUTE FUNCTION jobs_schedule_event();
CREATE TRIGGER jobs_state_scheduled_changed AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (NEW.schedule_id IS NOT NULL AND OLD.state IS DISTINCT FROM NEW.state
                       AND NEW.state IN ('succeeded', 'failed'))
    EXECUTE FUNCTION jobs_schedule_event();
