-- Conversations, their members and the per-conversation event log.
-- Keep the semantics identical to ../postgres/0003_conversations.sql; the behavioural suite
-- runs against both. Encodings as in 0001: ids are 16-byte BLOBs, timestamps INTEGER
-- microseconds since the Unix epoch, booleans INTEGER 0/1.

CREATE TABLE conversations (
    id               BLOB PRIMARY KEY,
    kind             TEXT NOT NULL CHECK (kind IN ('direct', 'group', 'meeting')),
    title            TEXT,
    avatar_url       TEXT,
    meeting_code     TEXT UNIQUE,
    allow_guests     INTEGER NOT NULL DEFAULT 0 CHECK (allow_guests IN (0, 1)),
    created_by       BLOB NOT NULL REFERENCES users (id),
    created_at       INTEGER NOT NULL,
    -- The seq of the newest event. Every event-producing write increments it first, inside
    -- its transaction, and uses the result as the event's seq: the write lock (SQLite) or the
    -- row lock (Postgres) orders appends, and a rollback takes the increment with it, so seqs
    -- are gap-free.
    last_seq         INTEGER NOT NULL DEFAULT 0,
    last_activity_at INTEGER NOT NULL,
    -- Direct chats only: both user ids, sorted, joined by ':'. At most one chat per pair.
    direct_key       TEXT UNIQUE,
    CHECK ((kind = 'direct') = (direct_key IS NOT NULL)),
    CHECK ((kind = 'meeting') = (meeting_code IS NOT NULL))
) STRICT;

CREATE TABLE conversation_members (
    conversation_id BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    user_id         BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('admin', 'member')),
    joined_at       INTEGER NOT NULL,
    -- The seq of the member's MemberJoined event (0 in direct chats, which have none). It
    -- orders members who joined at the same instant, and the receipts start there: history
    -- from before joining does not count as unread.
    joined_seq      INTEGER NOT NULL,
    delivered_seq   INTEGER NOT NULL,
    read_seq        INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, user_id)
) STRICT;

-- "My conversations", "my contacts".
CREATE INDEX conversation_members_user_id ON conversation_members (user_id);

-- The log clients resume from: one row per event, typed columns per kind (which ones are set
-- depends on `kind`). A message_created event's payload is its `messages` row. Ids of users
-- and messages are not foreign keys: the log keeps history as it happened.
CREATE TABLE conversation_events (
    conversation_id BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    seq             INTEGER NOT NULL,
    actor_id        BLOB NOT NULL,
    at              INTEGER NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN (
                        'message_created', 'message_edited', 'message_deleted',
                        'reaction_changed', 'message_pinned', 'member_joined', 'member_left',
                        'member_role_changed', 'conversation_renamed')),
    message_id      BLOB,
    subject_user_id BLOB,
    -- message_edited: the body at edit time.
    body            TEXT,
    emoji           TEXT,
    title           TEXT,
    avatar_url      TEXT,
    added           INTEGER CHECK (added IN (0, 1)),
    pinned          INTEGER CHECK (pinned IN (0, 1)),
    role            TEXT CHECK (role IN ('admin', 'member')),
    PRIMARY KEY (conversation_id, seq)
) STRICT;
