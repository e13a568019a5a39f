//! Plain records the store reads and writes. No serde here: the gateway owns the wire shape.

use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserKind {
    /// A registered account with a password.
    Member,
    /// Joined with only a display name; expires at `User::guest_expires_at`.
    Guest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: Uuid,
    /// Lowercase, unique (guests get a generated `guest_…` name).
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub avatar_url: Option<String>,
    /// PHC string (argon2id); `None` for guests.
    pub password_hash: Option<String>,
    pub kind: UserKind,
    pub guest_expires_at: Option<DateTime<Utc>>,
    /// Bumped on password change and "log out everywhere": access tokens carrying an older
    /// version are refused.
    pub token_version: i64,
    pub failed_login_count: i32,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    pub email: Option<String>,
    pub password_hash: Option<String>,
    pub kind: UserKind,
    pub guest_expires_at: Option<DateTime<Utc>>,
    pub now: DateTime<Utc>,
}

/// Fields left `None` are unchanged; `Some(None)` clears an optional field.
#[derive(Debug, Clone, Default)]
pub struct ProfileUpdate {
    pub display_name: Option<String>,
    pub email: Option<Option<String>>,
    pub avatar_url: Option<Option<String>>,
}

/// One login on one device: a refresh-token family. Every refresh replaces the token; the
/// family is what "log out" and reuse detection revoke.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: Uuid,
    pub user_id: Uuid,
    pub created_at: DateTime<Utc>,
    /// Sliding: moved forward on every rotation, never past a guest's expiry.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: Uuid,
    pub user_id: Uuid,
    /// SHA-256 of the first refresh token of the family; the token itself is never stored.
    pub refresh_token_hash: Vec<u8>,
    pub expires_at: DateTime<Utc>,
    pub user_agent: Option<String>,
    pub now: DateTime<Utc>,
}

/// A request to exchange a refresh token for a new one, decided atomically by the store.
#[derive(Debug, Clone)]
pub struct RefreshRotation {
    pub presented_hash: Vec<u8>,
    pub new_hash: Vec<u8>,
    pub new_expires_at: DateTime<Utc>,
    /// A token used this recently is a benign race (two tabs refreshing at once), not theft.
    pub reuse_grace: Duration,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotationOutcome {
    /// The presented token was current: it is now used and `new_hash` is current.
    Rotated { session: Session, user: User },
    /// The presented token was used within the grace window: nothing changed; the caller may
    /// issue an access token but no new refresh token.
    RecentlyRotated { session: Session, user: User },
    /// The presented token was used before, outside the grace window: the whole family has
    /// been revoked.
    Reused { session_id: Uuid, user_id: Uuid },
    /// The family was revoked or has expired (or its guest user has).
    Ended,
    /// No such token was ever issued.
    Unknown,
}

/// What an authenticated request needs: the user and its session, in one read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user: User,
    pub session: Session,
}

/// How failed logins lock an account: after `threshold` consecutive failures, each further
/// failure locks it for `base * 2^(failures - threshold)`, capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    pub threshold: u32,
    pub base: Duration,
    pub max: Duration,
}

impl LockoutPolicy {
    /// How long an account with `failed_login_count` consecutive failures stays locked.
    pub fn lock_duration(&self, failed_login_count: u32) -> Option<Duration> {
        if self.threshold == 0 || failed_login_count < self.threshold {
            return None;
        }
        let doublings = (failed_login_count - self.threshold).min(30);
        let factor = 1i32 << doublings;
        let duration = self.base.checked_mul(factor).unwrap_or(self.max);
        Some(duration.min(self.max))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginFailure {
    pub failed_login_count: i32,
    pub locked_until: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    pub connections: u32,
    pub idle_connections: u32,
    pub max_connections: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_doubles_from_threshold_and_caps() {
        let policy = LockoutPolicy {
            threshold: 5,
            base: Duration::minutes(1),
            max: Duration::hours(1),
        };
        assert_eq!(policy.lock_duration(4), None);
        assert_eq!(policy.lock_duration(5), Some(Duration::minutes(1)));
        assert_eq!(policy.lock_duration(6), Some(Duration::minutes(2)));
        assert_eq!(policy.lock_duration(8), Some(Duration::minutes(8)));
        assert_eq!(policy.lock_duration(20), Some(Duration::hours(1)));
        assert_eq!(policy.lock_duration(u32::MAX), Some(Duration::hours(1)));
    }
}
