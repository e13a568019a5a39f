-- Blocks between users: directional, one row per (blocker, blocked).

CREATE TABLE blocks (
    blocker_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id),
    CHECK (blocker_id <> blocked_id)
) STRICT;

-- "Who blocked me" (the reverse direction) is what delivery checks will ask.
CREATE INDEX blocks_blocked_id ON blocks (blocked_id);
