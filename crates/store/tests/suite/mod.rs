//! The behavioural suite every [`Store`] implementation must pass. Each test is a plain async
//! fn taking the store; `store_suite!(make)` turns them all into `#[tokio::test]`s against the
//! databases `make` creates (quickwit's metastore pattern). Time is an argument everywhere,
//! so the suite runs on fixed timestamps and never sleeps.

pub mod blocks;
pub mod calls;
pub mod conversations;
pub mod messages;
pub mod search;
pub mod sessions;
pub mod users;

use chrono::{DateTime, Duration, Utc};
use convene_store::{
    ConversationEvent, EventKind, Message, NewGroup, NewMessage, NewSession, NewUser,
    RefreshRotation, Store, User, UserKind,
};
use uuid::Uuid;

/// Expands to one `#[tokio::test]` per behaviour, each on a fresh database from `$make`
/// (an async fn returning `convene_store::testing::TestDatabase`). The behaviour runs in its
/// own task so that the database is cleaned up even when an assertion panics.
macro_rules! store_suite {
    ($make:path) => {
        $crate::suite::store_suite!(@tests $make;
            users::ping_and_pool_stats_report_a_live_pool,
            users::created_user_reads_back_by_id_and_username,
            users::guest_keeps_kind_and_expiry,
            users::username_is_unique,
            users::profile_update_clears_and_sets,
            users::unknown_user_update_is_not_found,
            users::search_matches_prefix_case_insensitive_and_skips_guests,
            users::search_escapes_like_wildcards_and_respects_limit,
            users::failed_logins_lock_then_clear,
            users::failed_login_below_threshold_keeps_existing_lock,
            users::set_password_bumps_version_and_revokes_sessions,
            users::revoke_all_sessions_bumps_version_every_time,
            sessions::create_session_issues_first_refresh_token,
            sessions::session_for_unknown_user_is_not_found,
            sessions::principal_reads_user_and_session,
            sessions::revoking_a_session_is_idempotent,
            sessions::refresh_token_rotation_replaces_token_and_slides_expiry,
            sessions::refresh_token_reuse_within_grace_is_recently_rotated,
            sessions::refresh_token_reuse_after_grace_revokes_family,
            sessions::unknown_refresh_token_is_unknown,
            sessions::revoked_session_rotation_ends,
            sessions::ws_tickets_are_taken_once_and_expire,
            sessions::expired_session_rotation_ends,
            sessions::guest_rotation_ends_at_guest_expiry,
            sessions::concurrent_rotation_rotates_once,
            sessions::expired_sessions_are_deleted,
            blocks::block_is_idempotent_and_directional,
            blocks::blocking_unknown_user_is_not_found,
            blocks::blocked_users_lists_most_recent_first,
            blocks::unblock_reports_whether_a_block_existed,
            conversations::direct_chat_is_unique_per_pair,
            conversations::direct_chat_with_unknown_user_is_not_found,
            conversations::group_creation_adds_admin_and_members_with_events,
            conversations::group_with_unknown_member_creates_nothing,
            conversations::meeting_code_is_unique,
            conversations::membership_add_remove_role_are_events_and_idempotent,
            conversations::joining_member_has_read_the_history_before_joining,
            conversations::rename_is_an_event_and_moves_activity,
            conversations::conversation_list_orders_by_activity_with_unread_and_mentions,
            conversations::conversation_list_pages_by_activity,
            conversations::receipts_are_monotonic_and_capped,
            conversations::contacts_are_co_members,
            conversations::last_seen_round_trips,
            messages::seq_is_gap_free_under_concurrent_sends,
            messages::retried_send_returns_the_original_message,
            messages::concurrent_retries_store_one_message,
            messages::send_to_unknown_conversation_is_not_found,
            messages::reply_to_must_be_in_the_conversation,
            messages::edit_only_by_sender_and_not_after_delete,
            messages::delete_for_everyone_erases_body,
            messages::hide_is_per_user,
            messages::reactions_toggle_and_group_by_emoji,
            messages::pin_and_unpin_are_events,
            messages::history_pages_newest_first,
            messages::events_after_replays_everything_missed,
            search::search_is_case_insensitive_and_needs_every_word,
            search::search_matches_a_prefix_of_the_last_word_only,
            search::search_finds_words_in_member_conversations_only,
            search::search_skips_deleted_and_hidden_messages,
            search::search_follows_edits,
            search::search_of_only_punctuation_or_query_syntax_is_safe,
            search::search_is_newest_first_and_limited,
            calls::call_round_trips_through_every_field,
            calls::call_with_unknown_conversation_or_user_is_not_found,
            calls::busy_call_is_logged_at_creation,
            calls::transition_is_compare_and_set,
            calls::final_transition_logs_the_call_with_duration,
            calls::non_final_transition_logs_nothing,
            calls::active_call_is_ringing_or_ongoing_only,
            calls::call_history_is_newest_first_for_both_sides,
            calls::ringing_calls_past_a_time_are_listed_oldest_first,
            calls::call_events_replay_with_events_after,
        );
    };
    (@tests $make:path; $($module:ident :: $name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() -> anyhow::Result<()> {
                let database = $make().await;
                let behaviour = $crate::suite::$module::$name(database.store.clone());
                let outcome = tokio::spawn(behaviour).await;
                database.cleanup().await;
                match outcome {
                    Ok(result) => result,
                    Err(error) => match error.try_into_panic() {
                        Ok(panic) => std::panic::resume_unwind(panic),
                        Err(error) => Err(error.into()),
                    },
                }
            }
        )*
    };
}
pub(crate) use store_suite;

/// The suite's fixed "now": whole seconds, so values survive any backend's precision.
/// 2030-01-01T12:00:00Z.
pub fn t0() -> DateTime<Utc> {
    DateTime::UNIX_EPOCH + Duration::days(21_915) + Duration::hours(12)
}

pub fn member(username: &str, display_name: &str) -> NewUser {
    NewUser {
        id: Uuid::new_v4(),
        username: username.to_owned(),
        display_name: display_name.to_owned(),
        email: None,
        password_hash: Some(format!("$argon2id$v=19$fixture-{username}")),
        kind: UserKind::Member,
        guest_expires_at: None,
        now: t0(),
    }
}

pub fn guest(username: &str, display_name: &str, expires_at: DateTime<Utc>) -> NewUser {
    NewUser {
        password_hash: None,
        kind: UserKind::Guest,
        guest_expires_at: Some(expires_at),
        ..member(username, display_name)
    }
}

/// A session created at `t0()` that lasts 30 days, whose first refresh token hashes to `hash`.
pub fn session(user_id: Uuid, hash: &[u8]) -> NewSession {
    NewSession {
        id: Uuid::new_v4(),
        user_id,
        refresh_token_hash: hash.to_vec(),
        expires_at: t0() + Duration::days(30),
        user_agent: Some("suite/1.0".to_owned()),
        now: t0(),
    }
}

/// The grace window every rotation in the suite uses.
pub const GRACE_SECONDS: i64 = 10;

/// Exchanges `presented` for `new` at `now`, sliding the session to `now + 30 days`.
pub fn rotation(presented: &[u8], new: &[u8], now: DateTime<Utc>) -> RefreshRotation {
    RefreshRotation {
        presented_hash: presented.to_vec(),
        new_hash: new.to_vec(),
        new_expires_at: now + Duration::days(30),
        reuse_grace: Duration::seconds(GRACE_SECONDS),
        now,
    }
}

/// Creates the user, returning what the store returned.
pub async fn create(store: &dyn Store, new_user: NewUser) -> anyhow::Result<User> {
    Ok(store.create_user(new_user).await?)
}

pub fn usernames(users: &[User]) -> Vec<&str> {
    users.iter().map(|user| user.username.as_str()).collect()
}

/// `t0()` plus `minutes`: the suite's clock for sequences of events.
pub fn at(minutes: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(minutes)
}

/// Members named after each username (display name capitalised by hand is not needed).
pub async fn members(store: &dyn Store, usernames: &[&str]) -> anyhow::Result<Vec<User>> {
    let mut users = Vec::with_capacity(usernames.len());
    for username in usernames {
        users.push(create(store, member(username, username)).await?);
    }
    Ok(users)
}

/// A group titled "Team" created by `creator_id` at `now`.
pub fn group(creator_id: Uuid, member_ids: &[Uuid], now: DateTime<Utc>) -> NewGroup {
    NewGroup {
        id: Uuid::new_v4(),
        title: "Team".to_owned(),
        avatar_url: None,
        creator_id,
        member_ids: member_ids.to_vec(),
        now,
    }
}

/// A plain text message with a fresh client id.
pub fn text(conversation_id: Uuid, sender_id: Uuid, body: &str, now: DateTime<Utc>) -> NewMessage {
    NewMessage {
        id: Uuid::new_v4(),
        conversation_id,
        sender_id,
        client_id: Uuid::new_v4().to_string(),
        body: body.to_owned(),
        reply_to: None,
        forwarded_from: None,
        mentions: Vec::new(),
        now,
    }
}

/// Appends `text(…)` and returns the stored message.
pub async fn send(
    store: &dyn Store,
    conversation_id: Uuid,
    sender_id: Uuid,
    body: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<Message> {
    let outcome = store
        .append_message(text(conversation_id, sender_id, body, now))
        .await?;
    assert!(!outcome.duplicate);
    Ok(created_message(&outcome.event).clone())
}

/// The message of a `MessageCreated` event.
pub fn created_message(event: &ConversationEvent) -> &Message {
    match &event.kind {
        EventKind::MessageCreated { message } => message,
        other => panic!("expected a created message, got {other:?}"),
    }
}

pub fn seqs(events: &[ConversationEvent]) -> Vec<i64> {
    events.iter().map(|event| event.seq).collect()
}

pub fn bodies(messages: &[Message]) -> Vec<&str> {
    messages
        .iter()
        .map(|message| message.body.as_str())
        .collect()
}
