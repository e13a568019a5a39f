-- One-to-one calls, and their lines in the chat (`call_logged` events).
-- Keep the semantics identical to ../postgres/0007_calls.sql; the behavioural suite runs
-- against both. Encodings as in 0001: ids are 16-byte BLOBs, timestamps INTEGER microseconds
-- since the Unix epoch.

CREATE TABLE calls (
    id                     BLOB PRIMARY KEY,
    conversation_id        BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    caller_id              BLOB NOT NULL REFERENCES users (id),
    callee_id              BLOB NOT NULL REFERENCES users (id),
    kind                   TEXT NOT NULL CHECK (kind IN ('voice', 'video')),
    -- Every transition is a compare-and-set on this column (`… WHERE state = $expected`).
    state                  TEXT NOT NULL CHECK (state IN (
                               'ringing', 'ongoing', 'ended', 'missed', 'declined', 'busy',
                               'cancelled', 'failed')),
    started_at             INTEGER NOT NULL,
    answered_at            INTEGER,
    ended_at               INTEGER,
    -- The callee's connection that answered; signalling goes only there.
    answered_by_connection BLOB
) STRICT;

-- A user's call history, either side; "is this user in a call".
CREATE INDEX calls_caller_started_at ON calls (caller_id, started_at);
CREATE INDEX calls_callee_started_at ON calls (callee_id, started_at);
-- The ring-timeout sweep reads only ringing calls, a handful at any time.
CREATE INDEX calls_ringing_started_at ON calls (started_at) WHERE state = 'ringing';

-- conversation_events gains the call_logged kind and its columns (the caller is
-- subject_user_id). SQLite cannot change a CHECK constraint in place, so the table is rebuilt
-- and copied; nothing references it.
CREATE TABLE conversation_events_new (
    conversation_id       BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq                   INTEGER NOT NULL,
    actor_id              BLOB NOT NULL,
    at                    INTEGER NOT NULL,
    kind                  TEXT NOT NULL CHECK (kind IN (
                              'message_created', 'message_edited', 'message_deleted',
                              'reaction_changed', 'message_pinned', 'member_joined',
                              'member_left', 'member_role_changed', 'conversation_renamed',
                              'call_logged')),
    message_id            BLOB,
    subject_user_id       BLOB,
    -- message_edited: the body at edit time.
    body                  TEXT,
    emoji                 TEXT,
    title                 TEXT,
    avatar_url            TEXT,
    added                 INTEGER CHECK (added IN (0, 1)),
    pinned                INTEGER CHECK (pinned IN (0, 1)),
    role                  TEXT CHECK (role IN ('admin', 'member')),
    -- call_logged: not a foreign key, like the other ids of the log.
    call_id               BLOB,
    call_kind             TEXT CHECK (call_kind IN ('voice', 'video')),
    -- Only final states are logged.
    call_outcome          TEXT CHECK (call_outcome IN (
                              'ended', 'missed', 'declined', 'busy', 'cancelled', 'failed')),
    -- How long the call was connected, in whole seconds; NULL when it never was.
    call_duration_seconds INTEGER,
    PRIMARY KEY (conversation_id, seq)
) STRICT;

INSERT INTO conversation_events_new (conversation_id, seq, actor_id, at, kind, message_id,
    subject_user_id, body, emoji, title, avatar_url, added, pinned, role)
SELECT conversation_id, seq, actor_id, at, kind, message_id, subject_user_id, body, emoji,
    title, avatar_url, added, pinned, role
FROM conversation_events;

DROP TABLE conversation_events;
ALTER TABLE conversation_events_new RENAME TO conversation_events;
