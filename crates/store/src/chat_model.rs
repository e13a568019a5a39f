//! Records of conversations, their members, messages and the per-conversation event log.
//!
//! Every change to a conversation's visible content is an event with the next gap-free `seq`
//! of that conversation: a new message, an edit, a deletion, a reaction, a pin, a member
//! joining or leaving, a rename, a finished call. A client that has seen everything up to
//! `seq = N` catches up by reading the events after N ("resume"), whatever happened in the
//! meantime. Messages are the queryable projection of those events (history pages, search,
//! unread counts); a logged call is not a message and is never unread.

use chrono::{DateTime, Utc};
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationKind {
    /// Exactly two members, at most one per pair of users.
    Direct,
    /// Named, with admins and members.
    Group,
    /// Joined by a code like `abc-defg-hij`; may admit guests.
    Meeting,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRole {
    Admin,
    Member,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: Uuid,
    pub kind: ConversationKind,
    /// Group name or meeting title; `None` for direct chats.
    pub title: Option<String>,
    pub avatar_url: Option<String>,
    /// Meetings only; unique.
    pub meeting_code: Option<String>,
    /// Meetings only: whether guest accounts may join by code.
    pub allow_guests: bool,
    pub created_by: Uuid,
    pub created_at: DateTime<Utc>,
    /// The seq of the newest event (0 = none yet).
    pub last_seq: i64,
    /// When the newest event happened (creation time until then); orders conversation lists.
    pub last_activity_at: DateTime<Utc>,
}

/// A user's membership. Receipts are "up to seq" markers, not a row per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub conversation_id: Uuid,
    pub user_id: Uuid,
    pub role: MemberRole,
    pub joined_at: DateTime<Utc>,
    /// Every event up to this seq reached at least one device of the member.
    pub delivered_seq: i64,
    /// The member has read everything up to this seq.
    pub read_seq: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reaction {
    pub emoji: String,
    /// Who reacted, in the order they did; the count is its length.
    pub user_ids: Vec<Uuid>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub id: Uuid,
    pub conversation_id: Uuid,
    /// The seq of the event that created it; orders history.
    pub seq: i64,
    pub sender_id: Uuid,
    /// Chosen by the sender's client; a retry with the same id returns this message.
    pub client_id: String,
    /// Empty once deleted for everyone.
    pub body: String,
    pub reply_to: Option<Uuid>,
    /// The message this one was forwarded from (possibly in another conversation).
    pub forwarded_from: Option<Uuid>,
    /// Members mentioned with `@username`.
    pub mentions: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub edited_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    pub pinned_at: Option<DateTime<Utc>>,
    /// Ordered by first reaction.
    pub reactions: Vec<Reaction>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A call ended; its line in the chat ("Missed video call", "Voice call · 4:12").
    CallLogged {
        call_id: Uuid,
        caller_id: Uuid,
        kind: convene_calls::CallKind,
        outcome: convene_calls::CallState,
        duration_seconds: Option<i64>,
    },
    MessageCreated {
        message: Message,
    },
    MessageEdited {
        message_id: Uuid,
        body: String,
        edited_at: DateTime<Utc>,
    },
    /// Deleted for everyone: the body is gone.
    MessageDeleted {
        message_id: Uuid,
    },
    /// `added` is false when the user took the reaction back.
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
        role: MemberRole,
    },
    MemberLeft {
        user_id: Uuid,
    },
    MemberRoleChanged {
        user_id: Uuid,
        role: MemberRole,
    },
    ConversationRenamed {
        title: Option<String>,
        avatar_url: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationEvent {
    pub conversation_id: Uuid,
    pub seq: i64,
    /// Who caused it.
    pub actor_id: Uuid,
    pub at: DateTime<Utc>,
    pub kind: EventKind,
}

#[derive(Debug, Clone)]
pub struct NewGroup {
    pub id: Uuid,
    pub title: String,
    pub avatar_url: Option<String>,
    pub creator_id: Uuid,
    /// Other initial members (the creator is added as admin); unknown ids → `NotFound`.
    pub member_ids: Vec<Uuid>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMeeting {
    pub id: Uuid,
    pub code: String,
    pub title: Option<String>,
    pub creator_id: Uuid,
    pub allow_guests: bool,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub id: Uuid,
    pub conversation_id: Uuid,
    pub sender_id: Uuid,
    pub client_id: String,
    pub body: String,
    pub reply_to: Option<Uuid>,
    pub forwarded_from: Option<Uuid>,
    pub mentions: Vec<Uuid>,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    pub event: ConversationEvent,
    /// True when `(conversation, sender, client_id)` existed: nothing was written and
    /// `event` is the original creation event.
    pub duplicate: bool,
}

/// One row of a user's conversation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    pub membership: Member,
    /// Newest message not deleted for this user (may be deleted for everyone).
    pub last_message: Option<Message>,
    /// Messages from others after `membership.read_seq`, not deleted.
    pub unread_count: i64,
    /// Of those, the ones mentioning the user.
    pub mention_count: i64,
    /// Direct chats: the other member.
    pub peer_id: Option<Uuid>,
}
