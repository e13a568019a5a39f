-- Messages (the queryable projection of message events), their mentions, reactions and
-- per-user hiding, and full-text search. Keep the semantics identical to
-- ../sqlite/0004_messages.sql.

CREATE TABLE messages (
    id              UUID PRIMARY KEY,
    conversation_id UUID NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- The seq of the message_created event.
    seq             BIGINT NOT NULL,
    sender_id       UUID NOT NULL REFERENCES users (id),
    client_id       TEXT NOT NULL,
    -- '' once deleted for everyone.
    body            TEXT NOT NULL,
    reply_to        UUID REFERENCES messages (id) ON DELETE SET NULL,
    -- Not a foreign key: it may name a message the reader cannot see, or one since deleted.
    forwarded_from  UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    edited_at       TIMESTAMPTZ,
    deleted_at      TIMESTAMPTZ,
    pinned_at       TIMESTAMPTZ,
    UNIQUE (conversation_id, seq),
    -- Idempotent sends: a retry finds the original.
    UNIQUE (conversation_id, sender_id, client_id)
);

CREATE INDEX messages_pinned ON messages (conversation_id, pinned_at)
    WHERE pinned_at IS NOT NULL;

-- Full-text search: queries must use this exact expression to hit the index. The 'simple'
-- configuration lowercases and does no stemming, so words match as typed.
CREATE INDEX messages_body_search ON messages USING GIN (to_tsvector('simple', body));

CREATE TABLE message_mentions (
    message_id UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
);

CREATE TABLE message_reactions (
    message_id UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    -- The seq of the event that added it: reactions are listed in the order they happened.
    seq        BIGINT NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
);

-- "Delete for me".
CREATE TABLE message_hides (
    message_id UUID NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hidden_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (message_id, user_id)
);
