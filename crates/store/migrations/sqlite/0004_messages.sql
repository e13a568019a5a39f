-- Messages (the queryable projection of message events), their mentions, reactions and
-- per-user hiding, and full-text search. Keep the semantics identical to
-- ../postgres/0004_messages.sql.

CREATE TABLE messages (
    -- A stable integer rowid for the external-content search index below: an implicit rowid
    -- may be renumbered by VACUUM, an INTEGER PRIMARY KEY never is.
    search_rowid    INTEGER PRIMARY KEY,
    id              BLOB NOT NULL UNIQUE,
    conversation_id BLOB NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    -- The seq of the message_created event.
    seq             INTEGER NOT NULL,
    sender_id       BLOB NOT NULL REFERENCES users (id),
    client_id       TEXT NOT NULL,
    -- '' once deleted for everyone.
    body            TEXT NOT NULL,
    reply_to        BLOB REFERENCES messages (id) ON DELETE SET NULL,
    -- Not a foreign key: it may name a message the reader cannot see, or one since deleted.
    forwarded_from  BLOB,
    created_at      INTEGER NOT NULL,
    edited_at       INTEGER,
    deleted_at      INTEGER,
    pinned_at       INTEGER,
    UNIQUE (conversation_id, seq),
    -- Idempotent sends: a retry finds the original.
    UNIQUE (conversation_id, sender_id, client_id)
) STRICT;

CREATE INDEX messages_pinned ON messages (conversation_id, pinned_at)
    WHERE pinned_at IS NOT NULL;

CREATE TABLE message_mentions (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (message_id, user_id)
) STRICT;

CREATE TABLE message_reactions (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    emoji      TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    -- The seq of the event that added it: reactions are listed in the order they happened.
    seq        INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id, emoji)
) STRICT;

-- "Delete for me".
CREATE TABLE message_hides (
    message_id BLOB NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    hidden_at  INTEGER NOT NULL,
    PRIMARY KEY (message_id, user_id)
) STRICT;

-- Full-text search over message bodies: an external-content FTS5 index (the text lives only
-- in `messages`), kept in step by the triggers below. unicode61 folds case and, with
-- remove_diacritics 2, accents.
CREATE VIRTUAL TABLE messages_search USING fts5 (
    body,
    content = 'messages',
    content_rowid = 'search_rowid',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_search_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_search (rowid, body) VALUES (new.search_rowid, new.body);
END;

CREATE TRIGGER messages_search_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, body)
        VALUES ('delete', old.search_rowid, old.body);
END;

CREATE TRIGGER messages_search_update AFTER UPDATE OF body ON messages BEGIN
    INSERT INTO messages_search (messages_search, rowid, body)
        VALUES ('delete', old.search_rowid, old.body);
    INSERT INTO messages_search (rowid, body) VALUES (new.search_rowid, new.body);
END;
