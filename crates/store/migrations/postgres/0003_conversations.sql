-- Conversations, their members and the per-conversation event log.
-- Keep the semantics identical to ../sqlite/0003_conversations.sql; the behavioural suite
-- runs against both.

CREATE TABLE conversations (
    id               UUID PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group', 'meeting')),
    title            TEXT,
    avatar_url       TEXT,
    meeting_code     TEXT UNIQUE,
    allow_guests     BOOLEAN NOT NULL DEFAULT FALSE,
    created_by       UUID NOT NULL REFERENCES users (id),
    created_at       TIMESTAMPTZ NOT NULL,
    -- The seq of the newest event. Every event-producing write increments it first, inside
    -- its transaction, and uses the result as the event's seq: the row lock this UPDATE takes
    -- orders concurrent appends, and a rollback takes the increment with it, so seqs are
    -- gap-free.
    last_seq         BIGINT NOT NULL DEFAULT 0,
    last_activity_at TIMESTAMPTZ NOT NULL,
    -- Direct chats only: both user ids, sorted, joined by ':'. At most one chat per pair.
    direct_key       TEXT UNIQUE,
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL)),
    CHECK ((kind = 'meeting') = (meeting_code IS NOT NULL))
);

CREATE TABLE conversation_members (
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    joined_at       TIMESTAMPTZ NOT NULL,
    -- The seq of the member's MemberJoined event (0 in direct chats, which have none). It
    -- orders members who joined at the same instant, and the receipts start there: history
    -- from before joining does not count as unread.
    joined_seq      BIGINT NOT NULL,
    delivered_seq   BIGINT NOT NULL,
    read_seq        BIGINT NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
);

-- "My conversations", "my contacts".
CREATE INDEX conversation_members_user_id ON conversation_members (user_id);

-- The log clients resume from: one row per event, typed columns per kind (which ones are set
-- depends on `kind`). A message_created event's payload is its `messages` row. Ids of users
-- and messages are not foreign keys: the log keeps history as it happened.
CREATE TABLE conversation_events (
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             BIGINT NOT NULL,
    actor_id        UUID NOT NULL,
    at              TIMESTAMPTZ NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN (
                        'message_created', 'message_edited', 'message_deleted',
                        'reaction_changed', 'message_pinned', 'member_joined', 'member_left',
                        'member_role_changed', 'conversation_renamed')),
    message_id      UUID,
    subject_user_id UUID,
    -- message_edited: the body at edit time.
    body            TEXT,
    emoji           TEXT,
    title           TEXT,
    avatar_url      TEXT,
    added           BOOLEAN,
    pinned          BOOLEAN,
    role            TEXT CHECK (role IN ('admin', 'member')),
    PRIMARY KEY (conversation_id, seq)
);
