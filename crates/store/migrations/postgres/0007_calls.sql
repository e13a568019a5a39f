-- One-to-one calls, and their lines in the chat (`call_logged` events).
-- Keep the semantics identical to ../sqlite/0007_calls.sql; the behavioural suite runs
-- against both.

CREATE TABLE calls (
    id                     UUID PRIMARY KEY,
    conversation_id        UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    caller_id              UUID NOT NULL REFERENCES users (id),
    callee_id              UUID NOT NULL REFERENCES users (id),
    kind                   TEXT NOT NULL CHECK (kind IN ('voice', 'video')),
    -- Every transition is a compare-and-set on this column (`… WHERE state = $expected`):
    -- concurrent updates of one call queue on its row lock, and each re-checks the state the
    -- one before it committed.
    state                  TEXT NOT NULL CHECK (state IN (
                               'ringing', 'ongoing', 'ended', 'missed', 'declined', 'busy',
                               'cancelled', 'failed')),
    started_at             TIMESTAMPTZ NOT NULL,
    answered_at            TIMESTAMPTZ,
    ended_at               TIMESTAMPTZ,
    -- The callee's connection that answered; signalling goes only there.
    answered_by_connection UUID
);

-- A user's call history, either side; "is this user in a call".
CREATE INDEX calls_caller_started_at ON calls (caller_id, started_at);
CREATE INDEX calls_callee_started_at ON calls (callee_id, started_at);
-- The ring-timeout sweep reads only ringing calls, a handful at any time.
CREATE INDEX calls_ringing_started_at ON calls (started_at) WHERE state = 'ringing';

-- conversation_events gains the call_logged kind and its columns (the caller is
-- subject_user_id).
ALTER TABLE conversation_events
    DROP CONSTRAINT conversation_events_kind_check,
    ADD CONSTRAINT conversation_events_kind_check CHECK (kind IN (
        'message_created', 'message_edited', 'message_deleted', 'reaction_changed',
        'message_pinned', 'member_joined', 'member_left', 'member_role_changed',
        'conversation_renamed', 'call_logged')),
    -- call_logged: not a foreign key, like the other ids of the log.
    ADD COLUMN call_id UUID,
    ADD COLUMN call_kind TEXT CHECK (call_kind IN ('voice', 'video')),
    -- Only final states are logged.
    ADD COLUMN call_outcome TEXT CHECK (call_outcome IN (
        'ended', 'missed', 'declined', 'busy', 'cancelled', 'failed')),
    -- How long the call was connected, in whole seconds; NULL when it never was.
    ADD COLUMN call_duration_seconds BIGINT;
