//! Everything a user can do to conversations and messages, shared by the WebSocket and the
//! REST API: authorise by membership, change the store, then fan out what changed.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use convene_proto::{EventView, ServerFrame};
use convene_store::{
    AppendOutcome, Conversation, ConversationEvent, ConversationKind, Member, MemberRole, Message,
    NewGroup, NewMeeting, NewMessage, User, UserKind,
};
use uuid::Uuid;

use crate::chat::convert;
use crate::chat::envelope::{Outbound, Route};
use crate::chat::rules::{
    MAX_GROUP_MEMBERS, check_body, check_client_id, check_emoji, mentioned_usernames,
    new_meeting_code, normalize_meeting_code, normalize_title,
};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// How long a typing indicator shows unless renewed.
pub const TYPING_EXPIRES_MS: u32 = 6_000;
/// Most events one `fetch_events` or replay returns.
pub const MAX_EVENTS_PER_FETCH: u32 = 500;

pub fn conversation_not_found() -> ApiError {
    ApiError::not_found("conversation_not_found", "There is no such conversation.")
}

fn not_a_member() -> ApiError {
    ApiError::forbidden("not_a_member", "You are not a member of this conversation.")
}

fn message_not_found() -> ApiError {
    ApiError::not_found(
        "message_not_found",
        "There is no such message in this conversation.",
    )
}

fn admins_only() -> ApiError {
    ApiError::forbidden("admin_required", "Only group admins can do that.")
}

/// The conversation and the caller's membership, or the error that ends the request.
pub async fn require_member(
    state: &AppState,
    conversation_id: Uuid,
    user_id: Uuid,
) -> ApiResult<(Conversation, Member)> {
    let conversation = state
        .store
        .conversation(conversation_id)
        .await?
        .ok_or_else(conversation_not_found)?;
    let member = state
        .store
        .member(conversation_id, user_id)
        .await?
        .ok_or_else(not_a_member)?;
    Ok((conversation, member))
}

async fn member_ids(state: &AppState, conversation_id: Uuid) -> ApiResult<Vec<Uuid>> {
    Ok(state
        .store
        .members(conversation_id)
        .await?
        .into_iter()
        .map(|member| member.user_id)
        .collect())
}

/// Sends a stored event to every member (and to `extra` recipients, e.g. who just left).
/// Never fails: the event is committed, so the request that caused it succeeded; members
/// who miss the live delivery get it from the store (gap filling, resume).
pub async fn publish_event(
    state: &AppState,
    event: &ConversationEvent,
    extra: &[Uuid],
) -> ApiResult<EventView> {
    let mut recipients = match member_ids(state, event.conversation_id).await {
        Ok(recipients) => recipients,
        Err(error) => {
            tracing::warn!(code = error.code, "reading members for fan-out failed");
            extra.to_vec()
        }
    };
    for user_id in extra {
        if !recipients.contains(user_id) {
            recipients.push(*user_id);
        }
    }
    let view = convert::event(event);
    let outbound = Outbound::new(
        Route::Event {
            conversation_id: event.conversation_id,
            seq: event.seq,
        },
        &ServerFrame::Event {
            event: view.clone(),
        },
    );
    state.hub.fan_out(&recipients, outbound).await;
    Ok(view)
}

/// Tells `user_id`'s connections that they now follow `conversation_id`.
async fn announce_added(state: &AppState, conversation_id: Uuid, user_id: Uuid) -> ApiResult<()> {
    // The conversation just gained the user (its activity moved), so it is among the most
    // recent ones; a short page keeps this cheap for users with many conversations.
    let summaries = match state.store.conversations_for_user(user_id, None, 20).await {
        Ok(summaries) => summaries,
        Err(error) => {
            // Committed already; the user's connections learn of it on their next resume.
            tracing::warn!(
                code = ApiError::from(error).code,
                "announcing a new conversation failed"
            );
            return Ok(());
        }
    };
    if let Some(summary) = summaries
        .iter()
        .find(|summary| summary.conversation.id == conversation_id)
    {
        let outbound = Outbound::new(
            Route::ConversationAdded {
                conversation_id,
                seq: summary.conversation.last_seq,
            },
            &ServerFrame::ConversationAdded {
                conversation: convert::summary(summary),
            },
        );
        state.hub.fan_out(&[user_id], outbound).await;
    }
    Ok(())
}

async fn announce_removed(state: &AppState, conversation_id: Uuid, user_id: Uuid) {
    let outbound = Outbound::new(
        Route::ConversationRemoved { conversation_id },
        &ServerFrame::ConversationRemoved { conversation_id },
    );
    state.hub.fan_out(&[user_id], outbound).await;
}

/// A blocked user cannot message (or start a chat with) the user who blocked them, and
/// nobody can message someone they blocked without unblocking first.
async fn check_not_blocked(state: &AppState, user_id: Uuid, peer_id: Uuid) -> ApiResult<()> {
    if state.store.is_blocked(peer_id, user_id).await?
        || state.store.is_blocked(user_id, peer_id).await?
    {
        return Err(ApiError::forbidden(
            "blocked",
            "You cannot message this user.",
        ));
    }
    Ok(())
}

/// In a direct chat, nothing passes between two users when one blocked the other.
async fn check_direct_not_blocked(
    state: &AppState,
    conversation: &Conversation,
    user_id: Uuid,
) -> ApiResult<()> {
    if conversation.kind == ConversationKind::Direct
        && let Some(peer_id) = direct_peer(state, conversation.id, user_id).await?
    {
        check_not_blocked(state, user_id, peer_id).await?;
    }
    Ok(())
}

async fn direct_peer(
    state: &AppState,
    conversation_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Option<Uuid>> {
    Ok(member_ids(state, conversation_id)
        .await?
        .into_iter()
        .find(|member_id| *member_id != user_id))
}

// ---- Messages ----------------------------------------------------------------------------

pub struct SendRequest {
    pub conversation_id: Uuid,
    pub client_id: String,
    pub body: String,
    pub reply_to: Option<Uuid>,
    pub forwarded_from: Option<Uuid>,
}

/// Stores a message and, unless it is a retry, fans it out. Acknowledged only after commit.
pub async fn send_message(
    state: &AppState,
    sender: &User,
    request: SendRequest,
) -> ApiResult<AppendOutcome> {
    check_client_id(&request.client_id)?;
    check_body(&request.body)?;
    state.rate_limits.check_messages(sender.id)?;
    let (conversation, _) = require_member(state, request.conversation_id, sender.id).await?;
    if conversation.kind == ConversationKind::Direct
        && let Some(peer_id) = direct_peer(state, conversation.id, sender.id).await?
    {
        check_not_blocked(state, sender.id, peer_id).await?;
    }
    let mut mentions = Vec::new();
    for username in mentioned_usernames(&request.body) {
        if let Some(user) = state.store.user_by_username(&username).await?
            && user.id != sender.id
            && state
                .store
                .member(conversation.id, user.id)
                .await?
                .is_some()
        {
            mentions.push(user.id);
        }
    }
    let outcome = state
        .store
        .append_message(NewMessage {
            id: Uuid::now_v7(),
            conversation_id: conversation.id,
            sender_id: sender.id,
            client_id: request.client_id,
            body: request.body,
            reply_to: request.reply_to,
            forwarded_from: request.forwarded_from,
            mentions,
            now: state.clock.now(),
        })
        .await
        .map_err(|error| match error {
            convene_store::Error::NotFound => message_not_found(),
            other => other.into(),
        })?;
    if !outcome.duplicate {
        state.metrics.chat_event("message_sent");
    }
    // A retry may follow a first attempt whose fan-out never happened (the process died
    // after the commit): publish again; connections drop seqs they already have.
    publish_event(state, &outcome.event, &[]).await?;
    Ok(outcome)
}

/// Forwards a message the sender can see into another conversation they are in.
pub async fn forward_message(
    state: &AppState,
    sender: &User,
    message_id: Uuid,
    to_conversation_id: Uuid,
    client_id: String,
) -> ApiResult<AppendOutcome> {
    let original = state
        .store
        .message(message_id)
        .await?
        .ok_or_else(message_not_found)?;
    // Membership of the source is checked as strictly as any read.
    require_member(state, original.conversation_id, sender.id)
        .await
        .map_err(|_| message_not_found())?;
    if original.deleted_at.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "message_deleted",
            "That message was deleted.",
        ));
    }
    send_message(
        state,
        sender,
        SendRequest {
            conversation_id: to_conversation_id,
            client_id,
            body: original.body,
            reply_to: None,
            forwarded_from: Some(original.id),
        },
    )
    .await
}

fn map_message_error(error: convene_store::Error) -> ApiError {
    match error {
        convene_store::Error::NotFound => message_not_found(),
        convene_store::Error::NotSender => ApiError::forbidden(
            "not_message_sender",
            "You can only change your own messages.",
        ),
        convene_store::Error::MessageDeleted => ApiError::new(
            StatusCode::CONFLICT,
            "message_deleted",
            "That message was deleted.",
        ),
        other => other.into(),
    }
}

pub async fn edit_message(
    state: &AppState,
    editor: &User,
    conversation_id: Uuid,
    message_id: Uuid,
    body: String,
) -> ApiResult<EventView> {
    check_body(&body)?;
    let (conversation, _) = require_member(state, conversation_id, editor.id).await?;
    check_direct_not_blocked(state, &conversation, editor.id).await?;
    let event = state
        .store
        .edit_message(
            conversation_id,
            message_id,
            editor.id,
            body,
            state.clock.now(),
        )
        .await
        .map_err(map_message_error)?;
    publish_event(state, &event, &[]).await
}

/// Deleting for everyone: own messages, or any message for a group admin. Deleting for
/// oneself: any visible message; nobody else sees a change.
pub async fn delete_message(
    state: &AppState,
    actor: &User,
    conversation_id: Uuid,
    message_id: Uuid,
    for_everyone: bool,
) -> ApiResult<Option<EventView>> {
    let (conversation, member) = require_member(state, conversation_id, actor.id).await?;
    let message = state
        .store
        .message(message_id)
        .await?
        .filter(|message| message.conversation_id == conversation_id)
        .ok_or_else(message_not_found)?;
    if !for_everyone {
        state
            .store
            .hide_message(message_id, actor.id, state.clock.now())
            .await?;
        return Ok(None);
    }
    let admin_of_group =
        conversation.kind == ConversationKind::Group && member.role == MemberRole::Admin;
    if message.sender_id != actor.id && !admin_of_group {
        return Err(ApiError::forbidden(
            "not_message_sender",
            "You can delete others' messages for everyone only as a group admin.",
        ));
    }
    let event = state
        .store
        .delete_message(conversation_id, message_id, actor.id, state.clock.now())
        .await
        .map_err(map_message_error)?;
    publish_event(state, &event, &[]).await.map(Some)
}

pub async fn react(
    state: &AppState,
    user: &User,
    conversation_id: Uuid,
    message_id: Uuid,
    emoji: &str,
) -> ApiResult<EventView> {
    check_emoji(emoji)?;
    let (conversation, _) = require_member(state, conversation_id, user.id).await?;
    check_direct_not_blocked(state, &conversation, user.id).await?;
    let event = state
        .store
        .toggle_reaction(
            conversation_id,
            message_id,
            user.id,
            emoji,
            state.clock.now(),
        )
        .await
        .map_err(map_message_error)?;
    publish_event(state, &event, &[]).await
}

/// Group admins pin in groups; anyone pins in direct chats and meetings.
pub async fn pin(
    state: &AppState,
    user: &User,
    conversation_id: Uuid,
    message_id: Uuid,
    pinned: bool,
) -> ApiResult<Option<EventView>> {
    let (conversation, member) = require_member(state, conversation_id, user.id).await?;
    if conversation.kind == ConversationKind::Group && member.role != MemberRole::Admin {
        return Err(admins_only());
    }
    check_direct_not_blocked(state, &conversation, user.id).await?;
    let event = state
        .store
        .set_message_pinned(
            conversation_id,
            message_id,
            pinned,
            user.id,
            state.clock.now(),
        )
        .await
        .map_err(map_message_error)?;
    match event {
        Some(event) => publish_event(state, &event, &[]).await.map(Some),
        None => Ok(None),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    Delivered,
    Read,
}

/// Moves the caller's receipt marker and tells the members (ticks).
pub async fn mark(
    state: &AppState,
    user: &User,
    conversation_id: Uuid,
    seq: i64,
    receipt: Receipt,
) -> ApiResult<Member> {
    if seq < 0 {
        return Err(ApiError::unprocessable(
            "invalid_seq",
            "`seq` cannot be negative.",
        ));
    }
    let (_, before) = require_member(state, conversation_id, user.id).await?;
    let member = match receipt {
        Receipt::Read => state.store.mark_read(conversation_id, user.id, seq).await?,
        Receipt::Delivered => {
            state
                .store
                .mark_delivered(conversation_id, user.id, seq)
                .await?
        }
    };
    if member.read_seq != before.read_seq || member.delivered_seq != before.delivered_seq {
        let outbound = Outbound::new(
            Route::Ephemeral,
            &ServerFrame::Receipt {
                conversation_id,
                user_id: user.id,
                delivered_seq: member.delivered_seq,
                read_seq: member.read_seq,
            },
        );
        let recipients = member_ids(state, conversation_id).await?;
        state.hub.fan_out(&recipients, outbound).await;
    }
    Ok(member)
}

/// Typing is never stored: it goes to the other members and expires by itself.
pub async fn typing(state: &AppState, user: &User, conversation_id: Uuid) -> ApiResult<()> {
    let (conversation, _) = require_member(state, conversation_id, user.id).await?;
    check_direct_not_blocked(state, &conversation, user.id).await?;
    let recipients: Vec<Uuid> = member_ids(state, conversation_id)
        .await?
        .into_iter()
        .filter(|member_id| *member_id != user.id)
        .collect();
    let outbound = Outbound::new(
        Route::Ephemeral,
        &ServerFrame::Typing {
            conversation_id,
            user_id: user.id,
            expires_in_ms: TYPING_EXPIRES_MS,
        },
    );
    state.hub.fan_out(&recipients, outbound).await;
    Ok(())
}

/// Events after `after_seq`, for a member; `complete` is false when more remain.
pub async fn events_after(
    state: &AppState,
    user: &User,
    conversation_id: Uuid,
    after_seq: i64,
) -> ApiResult<(Vec<EventView>, bool)> {
    let (conversation, _) = require_member(state, conversation_id, user.id).await?;
    let events = state
        .store
        .events_after(conversation_id, after_seq.max(0), MAX_EVENTS_PER_FETCH)
        .await?;
    let complete = events
        .last()
        .is_none_or(|last| last.seq >= conversation.last_seq);
    Ok((events.iter().map(convert::event).collect(), complete))
}

pub async fn history(
    state: &AppState,
    user: &User,
    conversation_id: Uuid,
    before_seq: Option<i64>,
    limit: u32,
) -> ApiResult<Vec<Message>> {
    require_member(state, conversation_id, user.id).await?;
    Ok(state
        .store
        .messages_before(conversation_id, user.id, before_seq, limit)
        .await?)
}

// ---- Conversations -----------------------------------------------------------------------

/// Groups are for members (guests only join meetings), and nobody is put in a group with
/// someone who blocked them, or whom they blocked.
async fn check_can_join_group(state: &AppState, actor_id: Uuid, added: &User) -> ApiResult<()> {
    if added.kind == UserKind::Guest {
        return Err(ApiError::forbidden(
            "guest_not_allowed",
            "Guests can only join meetings.",
        ));
    }
    check_not_blocked(state, actor_id, added.id).await
}

fn members_only(user: &User) -> ApiResult<()> {
    if user.kind == UserKind::Guest {
        return Err(ApiError::forbidden(
            "guest_not_allowed",
            "Guests can only join meetings.",
        ));
    }
    Ok(())
}

/// The direct chat with `peer_id`, created on first use (one per pair).
pub async fn start_direct(state: &AppState, user: &User, peer_id: Uuid) -> ApiResult<Conversation> {
    members_only(user)?;
    if peer_id == user.id {
        return Err(ApiError::unprocessable(
            "cannot_chat_with_self",
            "Start a chat with someone else.",
        ));
    }
    let peer = state
        .store
        .user_by_id(peer_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user_not_found", "There is no such user."))?;
    if peer.kind == UserKind::Guest {
        return Err(ApiError::forbidden(
            "guest_not_allowed",
            "Guests can only be met in meetings.",
        ));
    }
    check_not_blocked(state, user.id, peer_id).await?;
    let (conversation, created) = state
        .store
        .find_or_create_direct(Uuid::now_v7(), user.id, peer_id, state.clock.now())
        .await?;
    if created {
        announce_added(state, conversation.id, user.id).await?;
        announce_added(state, conversation.id, peer_id).await?;
    }
    Ok(conversation)
}

pub async fn create_group(
    state: &AppState,
    creator: &User,
    title: &str,
    avatar_url: Option<String>,
    member_ids: Vec<Uuid>,
) -> ApiResult<Conversation> {
    members_only(creator)?;
    let title = normalize_title(title)?;
    let member_ids: Vec<Uuid> = member_ids
        .into_iter()
        .filter(|member_id| *member_id != creator.id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if member_ids.len() + 1 > MAX_GROUP_MEMBERS {
        return Err(ApiError::unprocessable(
            "too_many_members",
            format!("A group has at most {MAX_GROUP_MEMBERS} members."),
        ));
    }
    for member_id in &member_ids {
        // Unknown ids are left to the store (NotFound, nothing created).
        if let Some(member) = state.store.user_by_id(*member_id).await? {
            check_can_join_group(state, creator.id, &member).await?;
        }
    }
    let conversation = state
        .store
        .create_group(NewGroup {
            id: Uuid::now_v7(),
            title,
            avatar_url,
            creator_id: creator.id,
            member_ids: member_ids.clone(),
            now: state.clock.now(),
        })
        .await
        .map_err(|error| match error {
            convene_store::Error::NotFound => {
                ApiError::not_found("user_not_found", "One of the members does not exist.")
            }
            other => other.into(),
        })?;
    announce_added(state, conversation.id, creator.id).await?;
    for member_id in member_ids {
        announce_added(state, conversation.id, member_id).await?;
    }
    Ok(conversation)
}

pub async fn create_meeting(
    state: &AppState,
    creator: &User,
    title: Option<&str>,
    allow_guests: bool,
) -> ApiResult<Conversation> {
    members_only(creator)?;
    let title = title.map(normalize_title).transpose()?;
    for _ in 0..5 {
        let result = state
            .store
            .create_meeting(NewMeeting {
                id: Uuid::now_v7(),
                code: new_meeting_code(),
                title: title.clone(),
                creator_id: creator.id,
                allow_guests,
                now: state.clock.now(),
            })
            .await;
        match result {
            Ok(conversation) => {
                announce_added(state, conversation.id, creator.id).await?;
                return Ok(conversation);
            }
            Err(convene_store::Error::MeetingCodeTaken) => continue,
            Err(other) => return Err(other.into()),
        }
    }
    Err(ApiError::internal())
}

/// Joins a meeting by its code (guests only where the meeting allows them). Idempotent.
pub async fn join_meeting(state: &AppState, user: &User, code: &str) -> ApiResult<Conversation> {
    let code = normalize_meeting_code(code)?;
    let conversation = state
        .store
        .conversation_by_meeting_code(&code)
        .await?
        .ok_or_else(|| {
            ApiError::not_found("meeting_not_found", "There is no meeting with that code.")
        })?;
    if user.kind == UserKind::Guest && !conversation.allow_guests {
        return Err(ApiError::forbidden(
            "guests_not_allowed",
            "This meeting does not admit guests; sign in to join.",
        ));
    }
    if let Some(event) = state
        .store
        .add_member(
            conversation.id,
            user.id,
            MemberRole::Member,
            user.id,
            state.clock.now(),
        )
        .await?
    {
        publish_event(state, &event, &[]).await?;
        announce_added(state, conversation.id, user.id).await?;
    }
    Ok(conversation)
}

async fn require_group_admin(
    state: &AppState,
    conversation_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Conversation> {
    let (conversation, member) = require_member(state, conversation_id, user_id).await?;
    if conversation.kind == ConversationKind::Direct {
        return Err(ApiError::unprocessable(
            "not_a_group",
            "Direct chats have exactly two members.",
        ));
    }
    if member.role != MemberRole::Admin {
        return Err(admins_only());
    }
    Ok(conversation)
}

pub async fn add_member(
    state: &AppState,
    actor: &User,
    conversation_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Option<EventView>> {
    let conversation = require_group_admin(state, conversation_id, actor.id).await?;
    if conversation.kind != ConversationKind::Group {
        return Err(ApiError::unprocessable(
            "not_a_group",
            "People join meetings with the code.",
        ));
    }
    let Some(added) = state.store.user_by_id(user_id).await? else {
        return Err(ApiError::not_found(
            "user_not_found",
            "There is no such user.",
        ));
    };
    check_can_join_group(state, actor.id, &added).await?;
    let Some(event) = state
        .store
        .add_member(
            conversation_id,
            user_id,
            MemberRole::Member,
            actor.id,
            state.clock.now(),
        )
        .await?
    else {
        return Ok(None);
    };
    let view = publish_event(state, &event, &[]).await?;
    announce_added(state, conversation_id, user_id).await?;
    Ok(Some(view))
}

/// Removing someone else needs an admin; anyone may leave. A group never loses its last
/// admin: when the last admin leaves, the longest-standing member is promoted.
pub async fn remove_member(
    state: &AppState,
    actor: &User,
    conversation_id: Uuid,
    user_id: Uuid,
) -> ApiResult<Option<EventView>> {
    let (conversation, actor_member) = require_member(state, conversation_id, actor.id).await?;
    if conversation.kind == ConversationKind::Direct {
        return Err(ApiError::unprocessable(
            "not_a_group",
            "You cannot leave a direct chat.",
        ));
    }
    if user_id != actor.id && actor_member.role != MemberRole::Admin {
        return Err(admins_only());
    }
    let now = state.clock.now();
    let Some(event) = state
        .store
        .remove_member(conversation_id, user_id, actor.id, now)
        .await?
    else {
        return Ok(None);
    };
    let view = publish_event(state, &event, &[user_id]).await?;
    announce_removed(state, conversation_id, user_id).await;
    let remaining = state.store.members(conversation_id).await?;
    if !remaining.is_empty()
        && !remaining
            .iter()
            .any(|member| member.role == MemberRole::Admin)
    {
        let successor = remaining[0].user_id;
        if let Some(event) = state
            .store
            .set_member_role(conversation_id, successor, MemberRole::Admin, actor.id, now)
            .await?
        {
            publish_event(state, &event, &[]).await?;
        }
    }
    Ok(Some(view))
}

pub async fn set_role(
    state: &AppState,
    actor: &User,
    conversation_id: Uuid,
    user_id: Uuid,
    role: MemberRole,
) -> ApiResult<Option<EventView>> {
    require_group_admin(state, conversation_id, actor.id).await?;
    let event = state
        .store
        .set_member_role(conversation_id, user_id, role, actor.id, state.clock.now())
        .await
        .map_err(|error| match error {
            convene_store::Error::NotFound => not_a_member_target(),
            other => other.into(),
        })?;
    match event {
        Some(event) => publish_event(state, &event, &[]).await.map(Some),
        None => Ok(None),
    }
}

fn not_a_member_target() -> ApiError {
    ApiError::not_found(
        "member_not_found",
        "That user is not a member of this conversation.",
    )
}

pub async fn rename(
    state: &AppState,
    actor: &User,
    conversation_id: Uuid,
    title: &str,
    avatar_url: Option<String>,
) -> ApiResult<EventView> {
    let conversation = require_group_admin(state, conversation_id, actor.id).await?;
    let title = normalize_title(title)?;
    let avatar_url = match avatar_url {
        Some(url) => Some(crate::validate::normalize_avatar_url(&url)?),
        None => conversation.avatar_url,
    };
    let event = state
        .store
        .rename_conversation(
            conversation_id,
            Some(title),
            avatar_url,
            actor.id,
            state.clock.now(),
        )
        .await?;
    publish_event(state, &event, &[]).await
}
