-- Throttling of login guesses and sign-ups, shared by every identity replica. One row per bucket
-- (e.g. failed logins of one username from one client address) holds a GCRA "theoretical arrival
-- time": each counted event pushes `tat` forward by the bucket's interval, and an event is refused
-- once `tat` would run further ahead of now than the bucket's window. Keys hold no raw usernames
-- (a SHA-256 of them), so guesses typed into the username field are not kept.
CREATE TABLE throttle_buckets (
    scope text        NOT NULL,
    key   text        NOT NULL,
    tat   timestamptz NOT NULL,
    CONSTRAINT throttle_buckets_pkey PRIMARY KEY (scope, key)
);

-- The sweep of buckets that have fully refilled.
CREATE INDEX throttle_buckets_tat_idx ON throttle_buckets (tat);
