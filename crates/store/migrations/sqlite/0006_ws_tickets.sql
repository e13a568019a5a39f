-- One-time tickets that open a WebSocket (for clients that cannot send the session cookie
-- on the handshake). Shared by every gateway pod; taken on first use.

CREATE TABLE ws_tickets (
    -- SHA-256 of the ticket; the ticket itself is never stored.
    ticket_hash BLOB PRIMARY KEY,
    user_id     BLOB NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  BLOB NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at  INTEGER NOT NULL
) STRICT;

CREATE INDEX ws_tickets_expires_at ON ws_tickets (expires_at);
