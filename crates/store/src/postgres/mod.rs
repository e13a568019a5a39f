//! [`PostgresStore`]: the production store.
//!
//! The pool connects lazily and reconnects by itself: a Postgres that is down when the
//! process starts, or restarts later, makes calls fail with [`Error::Unavailable`] (after
//! `acquire_timeout`) until it is back, and never kills the process.

mod calls;
mod chat_rows;
mod conversations;
mod messages;
mod rows;
mod sessions;

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use convene_calls::{Call, CallState};
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use uuid::Uuid;

use crate::chat_model::{
    AppendOutcome, Conversation, ConversationEvent, ConversationSummary, Member, MemberRole,
    Message, NewGroup, NewMeeting, NewMessage,
};
use crate::model::{
    LockoutPolicy, LoginFailure, NewSession, NewUser, PoolStats, Principal, ProfileUpdate,
    RefreshRotation, RotationOutcome, Session, User,
};
use crate::rules::{kind_to_str, lock_until, prefix_pattern, username_taken_on_unique};
use crate::{Error, Result, Store};
use rows::UserRow;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
}

impl PostgresStore {
    /// Builds the pool without opening a connection, so it succeeds while Postgres is down;
    /// only a malformed `url` fails here. Connections open on first use, and each call waits
    /// at most `acquire_timeout` for one. Async only because the pool spawns its maintenance
    /// task on the current Tokio runtime.
    pub async fn connect(
        url: &str,
        max_connections: u32,
        acquire_timeout: Duration,
    ) -> Result<Self> {
        let options: PgConnectOptions = url.parse()?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(acquire_timeout)
            .connect_lazy_with(options);
        Ok(PostgresStore { pool })
    }

    /// Applies the embedded migrations that have not run yet. Concurrent callers (several
    /// replicas starting at once) serialize on sqlx's advisory lock.
    pub async fn migrate(&self) -> Result<()> {
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for checked-out connections to come back (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Revokes every live session of the user: the shared tail of `set_password` and
    /// `revoke_all_sessions`, inside the caller's transaction.
    async fn revoke_sessions_of(
        transaction: &mut sqlx::PgConnection,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL",
        )
        .bind(user_id)
        .bind(now)
        .execute(transaction)
        .await?;
        Ok(())
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    fn pool_stats(&self) -> PoolStats {
        PoolStats {
            connections: self.pool.size(),
            idle_connections: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
            max_connections: self.pool.options().get_max_connections(),
        }
    }

    async fn create_user(&self, new_user: NewUser) -> Result<User> {
        let row: UserRow = sqlx::query_as(
            "INSERT INTO users (id, username, display_name, email, password_hash, kind, \
             guest_expires_at, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING *",
        )
        .bind(new_user.id)
        .bind(&new_user.username)
        .bind(&new_user.display_name)
        .bind(&new_user.email)
        .bind(&new_user.password_hash)
        .bind(kind_to_str(new_user.kind))
        .bind(new_user.guest_expires_at)
        .bind(new_user.now)
        .fetch_one(&self.pool)
        .await
        .map_err(username_taken_on_unique)?;
        row.try_into()
    }

    async fn user_by_id(&self, user_id: Uuid) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as("SELECT * FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(User::try_from).transpose()
    }

    async fn user_by_username(&self, username: &str) -> Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as("SELECT * FROM users WHERE username = $1")
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.map(User::try_from).transpose()
    }

    async fn update_profile(
        &self,
        user_id: Uuid,
        update: ProfileUpdate,
        now: DateTime<Utc>,
    ) -> Result<User> {
        // `Some(None)` must clear a field, so each optional field travels as (set?, value).
        let row: Option<UserRow> = sqlx::query_as(
            "UPDATE users SET \
             display_name = COALESCE($2, display_name), \
             email = CASE WHEN $3 THEN $4 ELSE email END, \
             avatar_url = CASE WHEN $5 THEN $6 ELSE avatar_url END, \
             updated_at = $7 \
             WHERE id = $1 RETURNING *",
        )
        .bind(user_id)
        .bind(&update.display_name)
        .bind(update.email.is_some())
        .bind(update.email.flatten())
        .bind(update.avatar_url.is_some())
        .bind(update.avatar_url.flatten())
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(Error::NotFound)?.try_into()
    }

    async fn search_users(
        &self,
        query: &str,
        exclude_user_id: Uuid,
        limit: u32,
    ) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(
            r"SELECT * FROM users
              WHERE kind = 'member' AND id <> $2
                AND (username LIKE $1 ESCAPE '\' OR lower(display_name) LIKE $1 ESCAPE '\')
              ORDER BY username
              LIMIT $3",
        )
        .bind(prefix_pattern(query))
        .bind(exclude_user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows::users(rows)
    }

    async fn record_failed_login(
        &self,
        user_id: Uuid,
        policy: LockoutPolicy,
        now: DateTime<Utc>,
    ) -> Result<LoginFailure> {
        let mut transaction = self.pool.begin().await?;
        // The first UPDATE holds the row lock until commit, so concurrent failures count
        // one after another.
        let counted: Option<(i32, Option<DateTime<Utc>>)> = sqlx::query_as(
            "UPDATE users SET failed_login_count = failed_login_count + 1 \
             WHERE id = $1 RETURNING failed_login_count, locked_until",
        )
        .bind(user_id)
        .fetch_optional(&mut *transaction)
        .await?;
        let (failed_login_count, mut locked_until) = counted.ok_or(Error::NotFound)?;
        if let Some(until) = lock_until(policy, failed_login_count, now)? {
            let (stored,): (DateTime<Utc>,) = sqlx::query_as(
                "UPDATE users SET locked_until = $2 WHERE id = $1 RETURNING locked_until",
            )
            .bind(user_id)
            .bind(until)
            .fetch_one(&mut *transaction)
            .await?;
            locked_until = Some(stored);
        }
        transaction.commit().await?;
        Ok(LoginFailure {
            failed_login_count,
            locked_until,
        })
    }

    async fn clear_failed_logins(&self, user_id: Uuid) -> Result<()> {
        let result = sqlx::query(
            "UPDATE users SET failed_login_count = 0, locked_until = NULL WHERE id = $1",
        )
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        if result.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    async fn set_password(
        &self,
        user_id: Uuid,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<User> {
        let mut transaction = self.pool.begin().await?;
        let row: Option<UserRow> = sqlx::query_as(
            "UPDATE users SET password_hash = $2, token_version = token_version + 1, \
             updated_at = $3 WHERE id = $1 RETURNING *",
        )
        .bind(user_id)
        .bind(password_hash)
        .bind(now)
        .fetch_optional(&mut *transaction)
        .await?;
        let user = User::try_from(row.ok_or(Error::NotFound)?)?;
        Self::revoke_sessions_of(&mut transaction, user_id, now).await?;
        transaction.commit().await?;
        Ok(user)
    }

    async fn revoke_all_sessions(&self, user_id: Uuid, now: DateTime<Utc>) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let result =
            sqlx::query("UPDATE users SET token_version = token_version + 1 WHERE id = $1")
                .bind(user_id)
                .execute(&mut *transaction)
                .await?;
        if result.rows_affected() == 0 {
            return Err(Error::NotFound);
        }
        Self::revoke_sessions_of(&mut transaction, user_id, now).await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn create_session(&self, new_session: NewSession) -> Result<Session> {
        self.insert_session(new_session).await
    }

    async fn rotate_refresh_token(&self, rotation: RefreshRotation) -> Result<RotationOutcome> {
        self.rotate(rotation).await
    }

    async fn session_id_for_refresh_token(&self, token_hash: &[u8]) -> Result<Option<Uuid>> {
        let session_id: Option<(Uuid,)> =
            sqlx::query_as("SELECT session_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&self.pool)
                .await?;
        Ok(session_id.map(|(session_id,)| session_id))
    }

    async fn revoke_session(&self, session_id: Uuid, now: DateTime<Utc>) -> Result<()> {
        sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(session_id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn principal(&self, user_id: Uuid, session_id: Uuid) -> Result<Option<Principal>> {
        self.read_principal(user_id, session_id).await
    }

    async fn delete_expired_sessions(&self, now: DateTime<Utc>) -> Result<u64> {
        let result = sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected())
    }

    async fn block_user(
        &self,
        blocker_id: Uuid,
        blocked_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO blocks (blocker_id, blocked_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(blocker_id)
        .bind(blocked_id)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(crate::rules::not_found_on_foreign_key)?;
        Ok(())
    }

    async fn unblock_user(&self, blocker_id: Uuid, blocked_id: Uuid) -> Result<bool> {
        let result = sqlx::query("DELETE FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker_id)
            .bind(blocked_id)
            .execute(&self.pool)
            .await?;
        Ok(result.rows_affected() > 0)
    }

    async fn blocked_users(&self, blocker_id: Uuid) -> Result<Vec<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(
            "SELECT users.* FROM blocks JOIN users ON users.id = blocks.blocked_id \
             WHERE blocks.blocker_id = $1 \
             ORDER BY blocks.created_at DESC, users.username",
        )
        .bind(blocker_id)
        .fetch_all(&self.pool)
        .await?;
        rows::users(rows)
    }

    async fn is_blocked(&self, blocker_id: Uuid, blocked_id: Uuid) -> Result<bool> {
        let found = sqlx::query("SELECT 1 FROM blocks WHERE blocker_id = $1 AND blocked_id = $2")
            .bind(blocker_id)
            .bind(blocked_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    async fn find_or_create_direct(
        &self,
        id: Uuid,
        user_a: Uuid,
        user_b: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(Conversation, bool)> {
        self.direct_chat(id, user_a, user_b, now).await
    }

    async fn create_group(&self, group: NewGroup) -> Result<Conversation> {
        self.insert_group(group).await
    }

    async fn create_meeting(&self, meeting: NewMeeting) -> Result<Conversation> {
        self.insert_meeting(meeting).await
    }

    async fn conversation(&self, conversation_id: Uuid) -> Result<Option<Conversation>> {
        self.conversation_by_id(conversation_id).await
    }

    async fn conversation_by_meeting_code(&self, code: &str) -> Result<Option<Conversation>> {
        self.conversation_by_code(code).await
    }

    async fn member(&self, conversation_id: Uuid, user_id: Uuid) -> Result<Option<Member>> {
        self.read_member(conversation_id, user_id).await
    }

    async fn members(&self, conversation_id: Uuid) -> Result<Vec<Member>> {
        self.read_members(conversation_id).await
    }

    async fn add_member(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        role: MemberRole,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        self.insert_member_event(conversation_id, user_id, role, actor_id, now)
            .await
    }

    async fn remove_member(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        self.delete_member(conversation_id, user_id, actor_id, now)
            .await
    }

    async fn set_member_role(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        role: MemberRole,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        self.update_member_role(conversation_id, user_id, role, actor_id, now)
            .await
    }

    async fn rename_conversation(
        &self,
        conversation_id: Uuid,
        title: Option<String>,
        avatar_url: Option<String>,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent> {
        self.rename(conversation_id, title, avatar_url, actor_id, now)
            .await
    }

    async fn conversations_for_user(
        &self,
        user_id: Uuid,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>> {
        self.summaries(user_id, before, limit).await
    }

    async fn conversation_ids_for_user(&self, user_id: Uuid) -> Result<Vec<Uuid>> {
        self.member_conversation_ids(user_id).await
    }

    async fn contact_ids(&self, user_id: Uuid) -> Result<Vec<Uuid>> {
        self.co_member_ids(user_id).await
    }

    async fn append_message(&self, message: NewMessage) -> Result<AppendOutcome> {
        self.append(message).await
    }

    async fn edit_message(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        editor_id: Uuid,
        body: String,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent> {
        self.edit(conversation_id, message_id, editor_id, body, now)
            .await
    }

    async fn delete_message(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent> {
        self.delete_for_everyone(conversation_id, message_id, actor_id, now)
            .await
    }

    async fn hide_message(
        &self,
        message_id: Uuid,
        user_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<()> {
        self.hide(message_id, user_id, now).await
    }

    async fn toggle_reaction(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        user_id: Uuid,
        emoji: &str,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent> {
        self.toggle(conversation_id, message_id, user_id, emoji, now)
            .await
    }

    async fn set_message_pinned(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        pinned: bool,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>> {
        self.pin(conversation_id, message_id, pinned, actor_id, now)
            .await
    }

    async fn message(&self, message_id: Uuid) -> Result<Option<Message>> {
        self.message_by_id(message_id).await
    }

    async fn messages_before(
        &self,
        conversation_id: Uuid,
        viewer_id: Uuid,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.history(conversation_id, viewer_id, before_seq, limit)
            .await
    }

    async fn pinned_messages(&self, conversation_id: Uuid) -> Result<Vec<Message>> {
        self.pinned(conversation_id).await
    }

    async fn events_after(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ConversationEvent>> {
        self.events(conversation_id, after_seq, limit).await
    }

    async fn search_messages(
        &self,
        user_id: Uuid,
        query: &str,
        conversation_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Message>> {
        self.search(user_id, query, conversation_id, limit).await
    }

    async fn mark_read(&self, conversation_id: Uuid, user_id: Uuid, seq: i64) -> Result<Member> {
        self.raise_receipts(conversation_id, user_id, seq, true)
            .await
    }

    async fn mark_delivered(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        seq: i64,
    ) -> Result<Member> {
        self.raise_receipts(conversation_id, user_id, seq, false)
            .await
    }

    async fn set_last_seen(&self, user_id: Uuid, at: DateTime<Utc>) -> Result<()> {
        self.write_last_seen(user_id, at).await
    }

    async fn last_seen(&self, user_ids: &[Uuid]) -> Result<Vec<(Uuid, Option<DateTime<Utc>>)>> {
        self.read_last_seen(user_ids).await
    }

    async fn create_ws_ticket(
        &self,
        ticket_hash: &[u8],
        user_id: Uuid,
        session_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO ws_tickets (ticket_hash, user_id, session_id, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(ticket_hash)
        .bind(user_id)
        .bind(session_id)
        .bind(expires_at)
        .execute(&self.pool)
        .await
        .map_err(crate::rules::not_found_on_foreign_key)?;
        Ok(())
    }

    async fn consume_ws_ticket(
        &self,
        ticket_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<(Uuid, Uuid)>> {
        // Deleting is taking: of two concurrent presentations only one gets the row.
        let taken: Option<(Uuid, Uuid, DateTime<Utc>)> = sqlx::query_as(
            "DELETE FROM ws_tickets WHERE ticket_hash = $1 RETURNING user_id, session_id, expires_at",
        )
        .bind(ticket_hash)
        .fetch_optional(&self.pool)
        .await?;
        sqlx::query("DELETE FROM ws_tickets WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(taken
            .filter(|(_, _, expires_at)| *expires_at > now)
            .map(|(user_id, session_id, _)| (user_id, session_id)))
    }

    async fn create_call(&self, call: &Call) -> Result<Option<ConversationEvent>> {
        self.insert_call(call).await
    }

    async fn call(&self, call_id: Uuid) -> Result<Option<Call>> {
        self.call_by_id(call_id).await
    }

    async fn transition_call(
        &self,
        expected: CallState,
        call: &Call,
    ) -> Result<Option<Option<ConversationEvent>>> {
        self.compare_and_set_call(expected, call).await
    }

    async fn active_call_of(&self, user_id: Uuid) -> Result<Option<Call>> {
        self.active_call(user_id).await
    }

    async fn calls_for_user(
        &self,
        user_id: Uuid,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Call>> {
        self.call_history(user_id, before, limit).await
    }

    async fn ringing_calls_started_before(
        &self,
        started_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Call>> {
        self.ringing_before(started_before, limit).await
    }
}
