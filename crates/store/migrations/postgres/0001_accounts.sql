-- Accounts: users, their sessions (refresh-token families) and the refresh tokens.
-- Keep the semantics identical to ../sqlite/0001_accounts.sql; the behavioural suite runs
-- against both.

CREATE TABLE users (
    id                 UUID PRIMARY KEY,
    -- Callers lowercase usernames, so a plain unique index is the case-insensitive one.
    username           TEXT NOT NULL UNIQUE,
    display_name       TEXT NOT NULL,
    email              TEXT,
    avatar_url         TEXT,
    password_hash      TEXT,
    kind               TEXT NOT NULL CHECK (kind IN ('member', 'guest')),
    guest_expires_at   TIMESTAMPTZ,
    token_version      BIGINT NOT NULL DEFAULT 0,
    failed_login_count INTEGER NOT NULL DEFAULT 0,
    locked_until       TIMESTAMPTZ,
    created_at         TIMESTAMPTZ NOT NULL,
    updated_at         TIMESTAMPTZ NOT NULL
);

-- User search is a prefix match on lower(display_name); text_pattern_ops lets LIKE 'x%' use
-- the index whatever the database collation.
CREATE INDEX users_display_name_prefix ON users (lower(display_name) text_pattern_ops);
CREATE INDEX users_username_prefix ON users (username text_pattern_ops);

CREATE TABLE sessions (
    id         UUID PRIMARY KEY,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    revoked_at TIMESTAMPTZ,
    user_agent TEXT
);

CREATE INDEX sessions_user_id ON sessions (user_id);
-- For the periodic sweep of expired sessions.
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    -- SHA-256 of the token; the token itself is never stored.
    token_hash BYTEA PRIMARY KEY,
    session_id UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  TIMESTAMPTZ NOT NULL,
    used_at    TIMESTAMPTZ
);

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
