//! Shapes shared by the WebSocket frames and the REST API.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConversationKindView {
    Direct,
    Group,
    Meeting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MemberRoleView {
    Admin,
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ConversationView {
    pub id: Uuid,
    pub kind: ConversationKindView,
    /// Group name or meeting title.
    pub title: Option<String>,
    pub avatar_url: Option<String>,
    /// Meetings only, like `abc-defg-hij`.
    pub meeting_code: Option<String>,
    pub allow_guests: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// The seq of the newest event.
    pub last_seq: i64,
    pub last_activity_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct MemberView {
    pub user_id: Uuid,
    pub role: MemberRoleView,
    pub joined_at: DateTime<Utc>,
    /// Everything up to this seq reached a device of the member (two grey ticks).
    pub delivered_seq: i64,
    /// The member read everything up to this seq (blue ticks).
    pub read_seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ReactionView {
    pub emoji: String,
    pub count: u32,
    pub user_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct MessageView {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub seq: i64,
    pub sender_id: Uuid,
    pub client_id: String,
    /// Empty when deleted for everyone.
    pub body: String,
    pub reply_to: Option<Uuid>,
    pub forwarded_from: Option<Uuid>,
    pub mentions: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub pinned_at: Option<DateTime<Utc>>,
    pub reactions: Vec<ReactionView>,
}

/// One entry of a conversation's log: the unit of sync. Seqs are gap-free per conversation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct EventView {
    pub conversation_id: Uuid,
    pub seq: i64,
    pub actor_id: Uuid,
    pub at: DateTime<Utc>,
    pub change: EventKindView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum EventKindView {
    MessageCreated {
        message: MessageView,
    },
    MessageEdited {
        message_id: Uuid,
        body: String,
        edited_at: DateTime<Utc>,
    },
    MessageDeleted {
        message_id: Uuid,
    },
    ReactionChanged {
        message_id: Uuid,
        user_id: Uuid,
        emoji: String,
        added: bool,
    },
    MessagePinned {
        message_id: Uuid,
        pinned: bool,
    },
    MemberJoined {
        user_id: Uuid,
        role: MemberRoleView,
    },
    MemberLeft {
        user_id: Uuid,
    },
    MemberRoleChanged {
        user_id: Uuid,
        role: MemberRoleView,
    },
    ConversationRenamed {
        title: Option<String>,
        avatar_url: Option<String>,
    },
    /// A call in this conversation ended: its line in the chat.
    CallLogged {
        call_id: Uuid,
        caller_id: Uuid,
        call_kind: CallKindView,
        outcome: CallStateView,
        duration_seconds: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallKindView {
    Voice,
    Video,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallStateView {
    Ringing,
    Ongoing,
    Ended,
    Missed,
    Declined,
    Busy,
    Cancelled,
    Failed,
}

/// A one-to-one call and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct CallView {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub caller_id: Uuid,
    pub callee_id: Uuid,
    pub kind: CallKindView,
    pub state: CallStateView,
    pub started_at: DateTime<Utc>,
    pub answered_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// The callee's connection that answered: only it takes part in the media session;
    /// the callee's other tabs stop ringing.
    pub answered_by_connection: Option<Uuid>,
    /// Connected time of an answered call that ended.
    pub duration_seconds: Option<i64>,
}

/// WebRTC negotiation, relayed between the two connections of a call as it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CallSignalView {
    /// An SDP offer or answer (`RTCSessionDescription`), for perfect negotiation.
    Description { sdp_type: String, sdp: String },
    /// A trickled ICE candidate (`RTCIceCandidate.toJSON()`); `candidate` empty = end.
    Candidate {
        candidate: String,
        sdp_mid: Option<String>,
        sdp_m_line_index: Option<u16>,
        username_fragment: Option<String>,
    },
    /// What the sender is sending now, so the other side can show "muted", "camera off",
    /// "presenting".
    MediaState {
        audio: bool,
        video: bool,
        screen: bool,
    },
}

/// A row of the conversation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ConversationSummaryView {
    pub conversation: ConversationView,
    pub role: MemberRoleView,
    pub read_seq: i64,
    pub delivered_seq: i64,
    pub unread_count: i64,
    pub mention_count: i64,
    pub last_message: Option<MessageView>,
    /// Direct chats: the other member.
    pub peer_id: Option<Uuid>,
}

/// "I have seen this conversation up to `seq`."
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ResumeCursor {
    pub conversation_id: Uuid,
    pub seq: i64,
}
