-- Report requests follow the one idempotency algorithm of every create operation (as in the
-- issues database): the key is claimed inside the creating transaction, before the job exists,
-- and the first response is kept (encoded protobuf) to be replayed.
--
-- Keys claimed before this change hold a job id and no response, which the new algorithm
-- cannot replay; they are dropped, so a request retried across the upgrade with such a key
-- makes a new job.
DELETE FROM idempotency_keys;

ALTER TABLE idempotency_keys DROP COLUMN job_id;
ALTER TABLE idempotency_keys RENAME COLUMN owner_id TO user_id;
ALTER TABLE idempotency_keys ADD COLUMN operation text NOT NULL;
ALTER TABLE idempotency_keys ADD COLUMN response bytea;
ALTER TABLE idempotency_keys DROP CONSTRAINT idempotency_keys_pkey;
ALTER TABLE idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, operation, key);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
