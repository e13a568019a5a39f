-- Accounts: users, their sessions (refresh-token families) and the refresh tokens.
-- Keep the semantics identical to ../postgres/0001_accounts.sql; the behavioural suite runs
-- against both.
--
-- Encodings: ids are 16-byte BLOBs (sqlx's uuid encoding for SQLite). Timestamps are INTEGER
-- microseconds since the Unix epoch, not sqlx's RFC 3339 TEXT: integers compare correctly in
-- WHERE clauses (expiry sweeps) and match Postgres's microsecond precision. STRICT makes a
-- wrongly-typed bind an error instead of a silently stored string.

CREATE TABLE users (
    id                 BLOB PRIMARY KEY,
    -- Callers lowercase usernames, so a plain unique index is the case-insensitive one.
    username           TEXT NOT NULL UNIQUE,
    display_name       TEXT NOT NULL,
    email              TEXT,
    avatar_url         TEXT,
    password_hash      TEXT,
    kind               TEXT NOT NULL CHECK (kind IN ('member', 'guest')),
    guest_expires_at   INTEGER,
    token_version      INTEGER NOT NULL DEFAULT 0,
    failed_login_count INTEGER NOT NULL DEFAULT 0,
    locked_until       INTEGER,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
) STRICT;

CREATE TABLE sessions (
    id         BLOB PRIMARY KEY,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    user_agent TEXT
) STRICT;

CREATE INDEX sessions_user_id ON sessions (user_id);
-- For the periodic sweep of expired sessions.
CREATE INDEX sessions_expires_at ON sessions (expires_at);

CREATE TABLE refresh_tokens (
    -- SHA-256 of the token; the token itself is never stored.
    token_hash BLOB PRIMARY KEY,
    session_id BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    issued_at  INTEGER NOT NULL,
    used_at    INTEGER
) STRICT;

CREATE INDEX refresh_tokens_session_id ON refresh_tokens (session_id);
