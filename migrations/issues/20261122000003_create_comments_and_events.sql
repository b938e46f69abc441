CREATE TABLE comments (
    id         uuid        PRIMARY KEY,
    issue_id   uuid        NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    author_id  uuid        NOT NULL,
    body       text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- Oldest first, keyset by (created_at, id).
CREATE INDEX comments_issue_created_idx ON comments (issue_id, created_at, id);

-- Activity history: who changed which field of an issue, from what, to what.
CREATE TABLE issue_events (
    id         uuid        PRIMARY KEY,
    issue_id   uuid        NOT NULL REFERENCES issues (id) ON DELETE CASCADE,
    actor_id   uuid        NOT NULL,
    kind       text        NOT NULL,
    field      text        NOT NULL DEFAULT '',
    old_value  text,
    new_value  text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX issue_events_issue_created_idx ON issue_events (issue_id, created_at, id);

-- Idempotency keys of create requests, per user and operation. The response is kept as the
-- encoded protobuf message so a replay returns exactly the first answer.
CREATE TABLE idempotency_keys (
    user_id      uuid        NOT NULL,
    operation    text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, operation, key)
);

CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
