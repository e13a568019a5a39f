use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::Result;
use crate::chat_model::{
    AppendOutcome, Conversation, ConversationEvent, ConversationSummary, Member, MemberRole,
    Message, NewGroup, NewMeeting, NewMessage,
};
use crate::model::{
    LockoutPolicy, LoginFailure, NewSession, NewUser, PoolStats, Principal, ProfileUpdate,
    RefreshRotation, RotationOutcome, Session, User,
};
use convene_calls::{Call, CallState};

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

    // ---- Conversations -------------------------------------------------------------------
    // Authorisation (is the actor a member, an admin?) is the caller's: it reads `member`
    // first. The store keeps what must be atomic: gap-free seqs, idempotent sends, one direct
    // chat per pair.

    /// The direct chat of two users, created (with both as members) if there is none yet;
    /// the bool says whether it was created. Concurrent calls for the same pair return the
    /// same conversation. `id` is used only when creating.
    async fn find_or_create_direct(
        &self,
        id: Uuid,
        user_a: Uuid,
        user_b: Uuid,
        now: DateTime<Utc>,
    ) -> Result<(Conversation, bool)>;
    /// The creator becomes admin, the others members; each join is an event. Unknown member
    /// ids fail with `NotFound` and create nothing.
    async fn create_group(&self, group: NewGroup) -> Result<Conversation>;
    /// The creator becomes admin. A taken code fails with `MeetingCodeTaken`.
    async fn create_meeting(&self, meeting: NewMeeting) -> Result<Conversation>;
    async fn conversation(&self, conversation_id: Uuid) -> Result<Option<Conversation>>;
    async fn conversation_by_meeting_code(&self, code: &str) -> Result<Option<Conversation>>;
    async fn member(&self, conversation_id: Uuid, user_id: Uuid) -> Result<Option<Member>>;
    /// Ordered by join time.
    async fn members(&self, conversation_id: Uuid) -> Result<Vec<Member>>;
    /// `None` when the user already is a member (nothing changes).
    async fn add_member(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        role: MemberRole,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>>;
    /// Leaving or being removed. `None` when the user was not a member.
    async fn remove_member(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>>;
    /// `NotFound` when the user is not a member; `None` when the role is unchanged.
    async fn set_member_role(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        role: MemberRole,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>>;
    async fn rename_conversation(
        &self,
        conversation_id: Uuid,
        title: Option<String>,
        avatar_url: Option<String>,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent>;
    /// The user's conversations, most recent activity first, older than `before` if given.
    async fn conversations_for_user(
        &self,
        user_id: Uuid,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<ConversationSummary>>;
    async fn conversation_ids_for_user(&self, user_id: Uuid) -> Result<Vec<Uuid>>;
    /// Everyone who shares at least one conversation with the user (not the user): who may
    /// see their presence.
    async fn contact_ids(&self, user_id: Uuid) -> Result<Vec<Uuid>>;

    // ---- Messages ------------------------------------------------------------------------

    /// Appends a message as the conversation's next event. Idempotent on
    /// `(conversation_id, sender_id, client_id)`: a retry returns the original event with
    /// `duplicate: true` and writes nothing. `NotFound` for an unknown conversation or a
    /// `reply_to` that is not a message of this conversation.
    async fn append_message(&self, message: NewMessage) -> Result<AppendOutcome>;
    /// `NotFound` (no such message in this conversation), `NotSender` (someone else's),
    /// `MessageDeleted` (deleted for everyone).
    async fn edit_message(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        editor_id: Uuid,
        body: String,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent>;
    /// Deletes for everyone (the body is erased). The caller has checked that the actor is
    /// the sender or an admin. `NotFound`; `MessageDeleted` if it already was.
    async fn delete_message(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent>;
    /// "Delete for me": the message disappears from this user's history, unread counts and
    /// search. Idempotent; not an event (nobody else sees a change).
    async fn hide_message(&self, message_id: Uuid, user_id: Uuid, now: DateTime<Utc>)
    -> Result<()>;
    /// Adds the user's reaction with `emoji`, or removes it if present.
    async fn toggle_reaction(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        user_id: Uuid,
        emoji: &str,
        now: DateTime<Utc>,
    ) -> Result<ConversationEvent>;
    /// `None` when the message already is in that state.
    async fn set_message_pinned(
        &self,
        conversation_id: Uuid,
        message_id: Uuid,
        pinned: bool,
        actor_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Option<ConversationEvent>>;
    async fn message(&self, message_id: Uuid) -> Result<Option<Message>>;
    /// History for `viewer_id`, newest first, with `seq < before_seq` if given, without the
    /// messages the viewer hid.
    async fn messages_before(
        &self,
        conversation_id: Uuid,
        viewer_id: Uuid,
        before_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// Pinned messages, most recently pinned first.
    async fn pinned_messages(&self, conversation_id: Uuid) -> Result<Vec<Message>>;
    /// Events with `seq > after_seq`, oldest first, at most `limit`: what a client that has
    /// seen `after_seq` missed.
    async fn events_after(
        &self,
        conversation_id: Uuid,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ConversationEvent>>;
    /// Full-text search in the conversations the user is a member of (or one of them):
    /// every word of `query` must occur as a word of the body (case-insensitive; the last
    /// word may be a prefix). Newest first; deleted and hidden messages excluded.
    async fn search_messages(
        &self,
        user_id: Uuid,
        query: &str,
        conversation_id: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Message>>;
    /// Raises the member's read marker (and delivered marker) to `seq`, capped at the
    /// conversation's `last_seq`; never lowers it. `NotFound` for a non-member.
    async fn mark_read(&self, conversation_id: Uuid, user_id: Uuid, seq: i64) -> Result<Member>;
    /// Raises the member's delivered marker, capped and monotonic like `mark_read`.
    async fn mark_delivered(
        &self,
        conversation_id: Uuid,
        user_id: Uuid,
        seq: i64,
    ) -> Result<Member>;
    /// Remembers when the user was last connected (for "last seen").
    async fn set_last_seen(&self, user_id: Uuid, at: DateTime<Utc>) -> Result<()>;
    /// `None` for users never seen (or unknown).
    async fn last_seen(&self, user_ids: &[Uuid]) -> Result<Vec<(Uuid, Option<DateTime<Utc>>)>>;

    // ---- WebSocket tickets ---------------------------------------------------------------

    /// Stores a one-time ticket (its SHA-256) that opens a WebSocket for `session_id` until
    /// `expires_at`, on whichever pod it is presented.
    async fn create_ws_ticket(
        &self,
        ticket_hash: &[u8],
        user_id: Uuid,
        session_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<()>;
    /// Takes the ticket: `(user_id, session_id)` the first time it is presented before it
    /// expires, `None` otherwise (unknown, used or expired). Expired tickets are deleted too.
    async fn consume_ws_ticket(
        &self,
        ticket_hash: &[u8],
        now: DateTime<Utc>,
    ) -> Result<Option<(Uuid, Uuid)>>;

    // ---- Calls ---------------------------------------------------------------------------
    // The call state machine is `convene_calls`; the store keeps each call and makes every
    // transition a compare-and-set, so two pods can never both answer or end a call.

    /// Stores a new call. A call created already final (busy) is logged at once: the
    /// returned event is its `CallLogged` entry in the conversation.
    async fn create_call(&self, call: &Call) -> Result<Option<ConversationEvent>>;
    async fn call(&self, call_id: Uuid) -> Result<Option<Call>>;
    /// Replaces the stored call with `call` if its state is still `expected`. `Ok(None)`:
    /// someone else changed it first (nothing written). `Ok(Some(logged))`: written; when
    /// `call` is final, `logged` is the `CallLogged` event appended to the conversation in
    /// the same transaction (the call's line in the chat).
    async fn transition_call(
        &self,
        expected: CallState,
        call: &Call,
    ) -> Result<Option<Option<ConversationEvent>>>;
    /// The user's ringing or ongoing call (as caller or callee), if any.
    async fn active_call_of(&self, user_id: Uuid) -> Result<Option<Call>>;
    /// The user's calls, newest first, started before `before` if given.
    async fn calls_for_user(
        &self,
        user_id: Uuid,
        before: Option<DateTime<Utc>>,
        limit: u32,
    ) -> Result<Vec<Call>>;
    /// Ringing calls started before `started_before` (ring-timeout sweeps), oldest first.
    async fn ringing_calls_started_before(
        &self,
        started_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Call>>;
}
