-- Personal access tokens: only the SHA-256 of the secret is kept, and looked up by it.
CREATE TABLE personal_access_tokens (
    id uuid PRIMARY KEY,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name text NOT NULL,
    token_hash bytea NOT NULL CONSTRAINT personal_access_tokens_token_hash_key UNIQUE,
    prefix text NOT NULL,
    scopes text[] NOT NULL,
    -- NULL: every project the user may see.
    project_keys text[],
    created_at timestamptz NOT NULL DEFAULT now(),
    -- NULL: never (only where configuration allows it).
    expires_at timestamptz,
    last_used_at timestamptz,
    revoked_at timestamptz
);

-- A name tells a user's live tokens apart.
CREATE UNIQUE INDEX personal_access_tokens_live_name_key
    ON personal_access_tokens (user_id, name) WHERE revoked_at IS NULL;

CREATE INDEX personal_access_tokens_by_user ON personal_access_tokens (user_id, created_at DESC);
