-- Users of swatter. Usernames are lower case by rule, so a plain unique constraint suffices;
-- emails are unique regardless of case.
CREATE TABLE users (
    id            uuid        PRIMARY KEY,
    username      text        NOT NULL,
    email         text        NOT NULL,
    full_name     text        NOT NULL DEFAULT '',
    password_hash text        NOT NULL,
    admin         boolean     NOT NULL DEFAULT false,
    disabled      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT users_username_key UNIQUE (username)
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Prefix search on username (`LIKE 'abc%'`) with keyset pagination by username.
CREATE INDEX users_username_prefix_idx ON users (username text_pattern_ops);
