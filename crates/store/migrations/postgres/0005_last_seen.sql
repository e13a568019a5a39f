-- When each user was last connected ("last seen"); NULL for never.

ALTER TABLE users ADD COLUMN last_seen_at TIMESTAMPTZ;
