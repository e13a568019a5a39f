-- One-time tickets that open a WebSocket (for clients that cannot send the session cookie
-- on the handshake). Shared by every gateway pod; taken on first use.

CREATE TABLE ws_tickets (
    -- SHA-256 of the ticket; the ticket itself is never stored.
    ticket_hash BYTEA PRIMARY KEY,
    user_id     UUID NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_id  UUID NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    expires_at  TIMESTAMPTZ NOT NULL
);

CREATE INDEX ws_tickets_expires_at ON ws_tickets (expires_at);
