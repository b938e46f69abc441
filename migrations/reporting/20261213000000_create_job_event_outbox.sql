-- Job state changes as events for other contexts (`job.state_changed` on the events exchange).
-- A trigger writes the job as it stands after the change, in the change's own transaction, so
-- every state a job goes through is announced once, whichever code path changed it; the relay
-- publishes the rows with publisher confirms and deletes them once confirmed.
CREATE TABLE job_event_outbox (
    seq         bigserial   PRIMARY KEY,
    id          uuid        NOT NULL DEFAULT gen_random_uuid(),
    job         jsonb       NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION jobs_state_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO job_event_outbox (job) VALUES (to_jsonb(NEW));
    PERFORM pg_notify('swatter_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_state_created AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION jobs_state_event();
CREATE TRIGGER jobs_state_changed AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
    EXECUTE FUNCTION jobs_state_event();
