use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;
use crate::model::{
    LockoutPolicy, LoginFailure, NewSession, NewUser, PoolStats, Principal, ProfileUpdate,
    RefreshRotation, RotationOutcome, Session, User,
};

/// The durable record. Every method is one atomic unit: it commits entirely or not at all.
/// Timestamps come in as arguments (`now`) so behaviour is testable without sleeping.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// A cheap round trip to the database, for `/readyz`.
    async fn ping(&self) -> Result<()>;
    /// Connection-pool numbers for `/metrics`.
    fn pool_stats(&self) -> PoolStats;

    /// Fails with [`crate::Error::UsernameTaken`] when the (lowercase) username exists.
    async fn create_user(&self, new_user: NewUser) -> Result<User>;
    async fn user_by_id(&self, user_id: Uuid) -> Result<Option<User>>;
    /// `username` is matched exactly; callers lowercase it first.
    async fn user_by_username(&self, username: &str) -> Result<Option<User>>;
    /// Fails with [`crate::Error::NotFound`] for an unknown user.
    async fn update_profile(
        &self,
        user_id: Uuid,
        update: ProfileUpdate,
        now: DateTime<Utc>,
    ) -> Result<User>;
    /// Members (not guests) whose username or display name starts with `query`
    /// (case-insensitive), excluding `exclude_user_id`, ordered by username, at most `limit`.
    async fn search_users(
        &self,
        query: &str,
        exclude_user_id: Uuid,
        limit: u32,
    ) -> Result<Vec<User>>;

    /// Counts one more consecutive failed login and locks the account when `policy` says so.
    async fn record_failed_login(
        &self,
        user_id: Uuid,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
    ) -> Result<LoginFailure>;
    /// A successful login: the failure count and any lock are cleared.
    async fn clear_failed_logins(&self, user_id: Uuid) -> Result<()>;
    /// Sets a new password hash, bumps `token_version` and revokes every session of the user.
    async fn set_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User>;
    /// "Log out everywhere": bumps `token_version` and revokes every session of the user.
    async fn revoke_all_sessions(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<()>;

    async fn create_session(&self, new_session: NewSession) -> Result<Session>;
    /// Exchanges a refresh token atomically; see [`RotationOutcome`] for the cases. Two
    /// concurrent calls with the same token never both get `Rotated`.
    async fn rotate_refresh_token(&self, rotation: RefreshRotation) -> Result<RotationOutcome>;
    /// The session a refresh token belongs to, whether or not the token was used.
    async fn session_id_for_refresh_token(&self, token_hash: &[u8]) -> Result<Option<Uuid>>;
    /// Idempotent: revoking a revoked or unknown session is not an error.
    async fn revoke_session(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<()>;
    /// The user and session behind an access token, in one read; `None` when either is gone.
    /// Callers check revocation, expiry and token version on the result.
    async fn principal(&self, user_id: Uuid, session_id: Uuid) -> Result<Option<Principal>>;
    /// Deletes sessions (and their refresh tokens) that expired before `now`; returns how many.
    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64>;

    /// Idempotent. Blocking yourself is the caller's error to catch.
    async fn block_user(
        &self,
        blocker_id: Uuid,
        blocked_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()>;
    /// Returns whether a block existed.
    async fn unblock_user(&self, blocker_id: Uuid, blocked_id: Uuid) -> Result<bool>;
    /// The users `blocker_id` has blocked, most recent first.
    async fn blocked_users(&self, blocker_id: Uuid) -> Result<Vec<User>>;
    async fn is_blocked(&self, blocker_id: Uuid, blocked_id: Uuid) -> Result<bool>;
}
