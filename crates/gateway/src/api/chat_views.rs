//! Request and response bodies of the chat REST API. The shared shapes (messages, events,
//! conversations) come from the proto crate, so REST and WebSocket clients see the same JSON.

use chrono::{DateTime, Utc};
use convene_proto::{
    ConversationSummaryView, ConversationView, EventView, MemberRoleView, MemberView, MessageView,
};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct StartDirectRequest {
    pub user_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct CreateGroupRequest {
    /// 1–64 characters.
    pub title: String,
    /// Other members (the creator is added as admin); at most 255.
    #[serde(default)]
    #[ts(as = "Option<Vec<Uuid>>", optional)]
    pub member_ids: Vec<Uuid>,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct CreateMeetingRequest {
    pub title: Option<String>,
    /// Whether people who joined as guests may join by code.
    #[serde(default)]
    #[ts(as = "Option<bool>", optional)]
    pub allow_guests: bool,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct RenameRequest {
    pub title: String,
    pub avatar_url: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    pub user_id: Uuid,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct UpdateMemberRequest {
    pub role: MemberRoleView,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct ConversationList {
    /// Most recent activity first. Ask for the next page with
    /// `before=<last_activity_at of the last one>`.
    pub conversations: Vec<ConversationSummaryView>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct ConversationDetail {
    pub conversation: ConversationView,
    pub members: Vec<MemberView>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationListQuery {
    /// Only conversations whose last activity is older than this.
    pub before: Option<DateTime<Utc>>,
    /// 1–100, default 50.
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Only messages with a smaller seq (the next older page).
    pub before_seq: Option<i64>,
    /// 1–100, default 50.
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Events after this seq (0 for all).
    pub after_seq: i64,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words to find (1–128 characters); the last may be a prefix.
    pub q: String,
    /// Search only this conversation.
    pub conversation_id: Option<Uuid>,
    /// 1–100, default 50.
    pub limit: Option<u32>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteMessageQuery {
    /// Delete for everyone (own messages; any message for group admins). Default: only for
    /// me.
    #[serde(default)]
    pub for_everyone: bool,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PresenceQuery {
    /// Comma-separated user ids (at most 200). Only contacts (people sharing a conversation
    /// with you) are answered.
    pub user_ids: String,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct MessageList {
    pub messages: Vec<MessageView>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct EventList {
    pub events: Vec<EventView>,
    /// False when more events remain after the last one.
    pub complete: bool,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct SendMessageRequest {
    /// 1–64 characters, unique per sender and conversation: a retry with the same id returns
    /// the same message.
    pub client_id: String,
    /// 1–4096 characters.
    pub body: String,
    pub reply_to: Option<Uuid>,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct ForwardMessageRequest {
    pub to_conversation_id: Uuid,
    pub client_id: String,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct SentMessage {
    /// True when the `client_id` was already used: this is the original message.
    pub duplicate: bool,
    pub message: MessageView,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct EditMessageRequest {
    pub body: String,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct ReactRequest {
    /// One emoji; sending the same again takes the reaction back.
    pub emoji: String,
}

#[derive(Debug, Deserialize, ToSchema, TS)]
#[serde(deny_unknown_fields)]
pub struct MarkReadRequest {
    pub seq: i64,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct EventAck {
    /// The seq of the event the request caused, if it changed anything.
    pub seq: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct PresenceEntry {
    pub user_id: Uuid,
    pub online: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct PresenceList {
    pub presence: Vec<PresenceEntry>,
}

#[derive(Debug, Serialize, ToSchema, TS)]
pub struct WebSocketTicket {
    /// Open `/api/v1/ws?ticket=…` with it within 30 seconds; it works once.
    pub ticket: String,
    pub expires_at: DateTime<Utc>,
}
