-- Webhook endpoints, the deliveries of events to them (one per endpoint and event), the log of
-- every attempt, and the outbox of the events this context publishes itself.

CREATE TABLE endpoints (
    id                         uuid        PRIMARY KEY,
    project_key                text        NOT NULL,
    url                        text        NOT NULL,
    -- Empty: every event type.
    event_types                text[]      NOT NULL DEFAULT '{}',
    description                text        NOT NULL DEFAULT '',
    active                     boolean     NOT NULL DEFAULT true,
    -- Set when the service disabled the endpoint; cleared when it is activated again.
    disabled_reason            text        NOT NULL DEFAULT '',
    -- `whsec_...`: the service signs with it, so it is kept as it is.
    secret                     text        NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    created_by                 uuid        NOT NULL,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX endpoints_project_idx ON endpoints (project_key, created_at, id);

-- The position of a delivery in its endpoint's order: arrival order (a redelivery takes a new one).
CREATE SEQUENCE delivery_order;

CREATE TABLE deliveries (
    id              uuid        PRIMARY KEY,
    endpoint_id     uuid        NOT NULL REFERENCES endpoints (id) ON DELETE CASCADE,
    position        bigint      NOT NULL DEFAULT nextval('delivery_order'),
    -- The envelope id, sent as `webhook-id`.
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    event_at        timestamptz NOT NULL,
    -- The envelope JSON, sent as the body.
    payload         text        NOT NULL,
    state           text        NOT NULL DEFAULT 'pending'
                    CONSTRAINT deliveries_state_check
                    CHECK (state IN ('pending', 'retrying', 'succeeded', 'failed')),
    -- Attempts made in all, and how many of them came before the last redelivery (the retry
    -- schedule starts again from there).
    attempts        integer     NOT NULL DEFAULT 0,
    schedule_start  integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- While a dispatcher holds it: until when, and the claim's token (fences a late result).
    lease_until     timestamptz,
    lease_token     uuid,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    last_response_status integer NOT NULL DEFAULT 0,
    last_duration_ms bigint     NOT NULL DEFAULT 0,
    -- An event reaches an endpoint once, however often the broker hands it over.
    CONSTRAINT deliveries_endpoint_event_key UNIQUE (endpoint_id, event_id)
);

-- The head of each endpoint's order: its oldest unfinished delivery.
CREATE INDEX deliveries_unfinished_idx ON deliveries (endpoint_id, position)
    WHERE state IN ('pending', 'retrying');
-- The delivery log, newest first.
CREATE INDEX deliveries_log_idx ON deliveries (endpoint_id, created_at DESC, id DESC);

CREATE TABLE delivery_attempts (
    delivery_id      uuid        NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt          integer     NOT NULL,
    started_at       timestamptz NOT NULL,
    duration_ms      bigint      NOT NULL,
    request_url      text        NOT NULL,
    request_headers  jsonb       NOT NULL,
    response_status  integer     NOT NULL DEFAULT 0,
    response_body_excerpt text   NOT NULL DEFAULT '',
    error            text        NOT NULL DEFAULT '',
    id               bigserial   PRIMARY KEY
);

CREATE INDEX delivery_attempts_delivery_idx ON delivery_attempts (delivery_id, id);

-- Events of this context (`webhook.endpoint_disabled`), published to the events exchange by
-- the relay once committed.
CREATE TABLE outbox (
    id         bigserial   PRIMARY KEY,
    event_type text        NOT NULL,
    envelope   text        NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    sent_at    timestamptz
);

CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL;

CREATE TABLE idempotency_keys (
    user_id      uuid        NOT NULL,
    operation    text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    response     bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, operation, key)
);
