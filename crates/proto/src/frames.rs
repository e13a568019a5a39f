//! WebSocket frames: JSON text frames tagged by `type`. docs/protocol.md has an example of
//! every frame.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::meetings::{
    MeetingHostActionView, MeetingParticipantView, MeetingSourceView, MeetingWaitingView,
};
use crate::views::{
    CallKindView, CallSignalView, CallView, ConversationSummaryView, EventView, MessageView,
    ResumeCursor,
};

/// What a client sends. Every frame may carry a `request_id` (≤ 64 characters), echoed in the
/// answer or error about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientFrame {
    /// Catch up: for each conversation the client knows, the newest seq it has. The server
    /// replays every event after it (and announces conversations the client did not list),
    /// then answers `resumed`; live events follow. Conversations too far behind get
    /// `resync_required` instead of a replay.
    Resume {
        #[ts(optional)]
        request_id: Option<String>,
        cursors: Vec<ResumeCursor>,
    },
    /// Ask for the events after `after_seq` (a client that noticed a gap in seqs).
    FetchEvents {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        after_seq: i64,
    },
    /// Send a text message. `client_id` (1–64 characters, unique per sender and
    /// conversation) makes retries safe: the same id returns the same message.
    SendMessage {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        client_id: String,
        body: String,
        #[ts(optional)]
        reply_to: Option<Uuid>,
    },
    /// Forward an existing message (that the sender can see) into another conversation.
    ForwardMessage {
        #[ts(optional)]
        request_id: Option<String>,
        message_id: Uuid,
        to_conversation_id: Uuid,
        client_id: String,
    },
    EditMessage {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        message_id: Uuid,
        body: String,
    },
    /// `for_everyone`: own messages (or any, for group admins); otherwise only hidden
    /// for the sender of this frame.
    DeleteMessage {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        message_id: Uuid,
        for_everyone: bool,
    },
    /// Toggle the sender's reaction `emoji` (one emoji) on a message.
    React {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        message_id: Uuid,
        emoji: String,
    },
    /// Pin or unpin (group admins; anyone in direct chats and meetings).
    PinMessage {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        message_id: Uuid,
        pinned: bool,
    },
    /// "I am typing": send every few seconds while typing; it expires by itself.
    Typing { conversation_id: Uuid },
    /// Everything up to `seq` has been shown to the user.
    MarkRead {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        seq: i64,
    },
    /// Everything up to `seq` reached this device.
    MarkDelivered { conversation_id: Uuid, seq: i64 },
    /// Call the other member of a direct chat. Answered by `call_update` (ringing, or busy).
    CallInvite {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        kind: CallKindView,
    },
    /// Answer a ringing call on this connection (the callee's other tabs stop ringing).
    CallAccept {
        #[ts(optional)]
        request_id: Option<String>,
        call_id: Uuid,
    },
    CallDecline {
        #[ts(optional)]
        request_id: Option<String>,
        call_id: Uuid,
    },
    /// Leave the call: cancels it while ringing (caller), declines it (callee), ends it
    /// when ongoing.
    CallHangup {
        #[ts(optional)]
        request_id: Option<String>,
        call_id: Uuid,
        /// The media never connected (or broke for good): the call ends as `failed`, not
        /// as an ordinary call with a duration.
        #[serde(default)]
        #[ts(as = "Option<bool>", optional)]
        failed: bool,
    },
    /// Add someone to an ongoing one-to-one call: it moves to a new group (the three of
    /// you) and its meeting on the SFU. Answered by `call_moved`, then the call ends.
    CallAddParticipant {
        #[ts(optional)]
        request_id: Option<String>,
        call_id: Uuid,
        user_id: Uuid,
    },
    /// WebRTC negotiation for the other participant of an ongoing (or, for the caller's
    /// offer, ringing) call.
    CallSignal {
        call_id: Uuid,
        signal: CallSignalView,
    },
    /// Join the media of a meeting (or group) this user is a member of. Answered by
    /// `meeting_joined`; one meeting per connection.
    MeetingJoin {
        #[ts(optional)]
        request_id: Option<String>,
        conversation_id: Uuid,
        /// Ring the other members of a group (its call button): they get `meeting_ringing`.
        #[serde(default)]
        #[ts(as = "Option<bool>", optional)]
        ring: bool,
    },
    /// A host's control of the meeting (hosts: the conversation's admins).
    MeetingHost {
        #[ts(optional)]
        request_id: Option<String>,
        action: MeetingHostActionView,
    },
    /// The publish connection's offer (first, and again when a track is added or removed).
    MeetingPublish {
        sdp: String,
        sources: Vec<MeetingSourceView>,
    },
    /// The answer to `meeting_subscribe_offer`.
    MeetingSubscribeAnswer { sdp: String },
    /// How a participant's camera or screen (`stream_id`) is shown: off-screen tiles are
    /// paused, small tiles get a lower simulcast layer (0–2).
    MeetingView {
        stream_id: String,
        visible: bool,
        max_layer: u8,
    },
    /// This participant's own state, shown on its tile to everyone.
    MeetingState {
        audio_muted: bool,
        video_muted: bool,
        hand_raised: bool,
    },
    /// An emoji that floats over this participant's tile for everyone.
    MeetingReaction { emoji: String },
    MeetingLeave {
        #[ts(optional)]
        request_id: Option<String>,
    },
    /// Application-level keep-alive; answered by `pong`.
    Ping {
        #[ts(optional)]
        request_id: Option<String>,
    },
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame on every connection.
    Ready {
        connection_id: Uuid,
        user_id: Uuid,
        /// Send something (a `ping` will do) at least this often, or the server closes the
        /// connection after twice as long.
        heartbeat_interval_ms: u32,
        server_time: DateTime<Utc>,
    },
    /// A new entry of a conversation's log.
    Event {
        event: EventView,
    },
    /// The answer to `send_message` / `forward_message`, after the message is stored.
    MessageSent {
        request_id: Option<String>,
        client_id: String,
        /// True when this `client_id` was already used: nothing new was stored.
        duplicate: bool,
        message: MessageView,
    },
    /// The answer to `edit_message`, `delete_message`, `react`, `pin_message`, `mark_read`.
    Ok {
        request_id: Option<String>,
        /// The seq of the event the request caused, if any.
        seq: Option<i64>,
    },
    /// The answer to `fetch_events`. `complete` is false when more remain after the last
    /// one (ask again from there).
    Events {
        request_id: Option<String>,
        conversation_id: Uuid,
        events: Vec<EventView>,
        complete: bool,
    },
    /// Resume finished: from here on, live events.
    Resumed {
        request_id: Option<String>,
    },
    /// The user joined (or was added to) a conversation.
    ConversationAdded {
        conversation: ConversationSummaryView,
    },
    /// The user left (or was removed from) a conversation.
    ConversationRemoved {
        conversation_id: Uuid,
    },
    /// A member's receipt markers moved.
    Receipt {
        conversation_id: Uuid,
        user_id: Uuid,
        delivered_seq: i64,
        read_seq: i64,
    },
    /// Someone is typing; show it for `expires_in_ms` unless renewed.
    Typing {
        conversation_id: Uuid,
        user_id: Uuid,
        expires_in_ms: u32,
    },
    /// A contact came online or went offline.
    Presence {
        user_id: Uuid,
        online: bool,
        last_seen_at: Option<DateTime<Utc>>,
    },
    /// The client may have missed events (server-side lag, or it is too far behind): reload
    /// the named conversation's history from the REST API, or resume every conversation
    /// when `conversation_id` is absent.
    ResyncRequired {
        conversation_id: Option<Uuid>,
        reason: String,
    },
    /// A call started, was answered, or ended. Sent to every connection of both
    /// participants; `request_id` answers the request that caused it on that connection.
    CallUpdate {
        request_id: Option<String>,
        call: CallView,
    },
    /// The call moved to the meeting of `conversation_id` (someone added a third person):
    /// join its media now (`meeting_join`) and drop the peer-to-peer connection; the
    /// `call_update` that ends the call follows.
    CallMoved {
        call_id: Uuid,
        conversation_id: Uuid,
    },
    /// Negotiation from the other participant.
    CallSignal {
        call_id: Uuid,
        from_user_id: Uuid,
        signal: CallSignalView,
    },
    Pong {
        request_id: Option<String>,
    },
    /// In the meeting's media room; send `meeting_publish` next.
    MeetingJoined {
        request_id: Option<String>,
        conversation_id: Uuid,
        session_id: Uuid,
        /// Send this many bytes of SDP at most (the frame limit, with room to spare).
        max_sdp_bytes: u32,
        /// False while waiting in the lobby for a host to let you in (guests, and everyone
        /// in a locked meeting): publish after `meeting_admitted`.
        admitted: bool,
        /// You are a host (an admin of the conversation): `meeting_host` is yours.
        host: bool,
    },
    /// A host let you in: publish now.
    MeetingAdmitted {
        conversation_id: Uuid,
    },
    /// A host muted your microphone: mute it (you may unmute yourself later).
    MeetingMutedByHost {
        conversation_id: Uuid,
    },
    /// Someone started a meeting in a group you are in, and rings you.
    MeetingRinging {
        conversation_id: Uuid,
        from_user_id: Uuid,
        from_display_name: String,
    },
    MeetingPublishAnswer {
        sdp: String,
    },
    /// The SFU (re-)offers the other participants' tracks; answer with
    /// `meeting_subscribe_answer`.
    MeetingSubscribeOffer {
        sdp: String,
    },
    /// Everyone in the meeting, in joining order, after any change.
    MeetingRoster {
        conversation_id: Uuid,
        participants: Vec<MeetingParticipantView>,
        /// Knocking, waiting for a host (hosts see them; empty for everyone else).
        waiting: Vec<MeetingWaitingView>,
        /// Nobody new joins without a host letting them in.
        locked: bool,
    },
    /// Who is talking: `dominant` is the tile to highlight (and show large in the speaker
    /// layout), `speaking` everyone above the threshold, loudest first.
    MeetingSpeakers {
        conversation_id: Uuid,
        dominant: Option<Uuid>,
        speaking: Vec<Uuid>,
    },
    MeetingReaction {
        conversation_id: Uuid,
        session_id: Uuid,
        emoji: String,
    },
    /// This connection is no longer in the meeting (it left, its media failed, the media
    /// server went away: join again).
    MeetingLeft {
        /// The `meeting_leave` this answers; absent when the server ended the session.
        request_id: Option<String>,
        conversation_id: Uuid,
        reason: String,
        /// The participant did not choose this (its media failed, the media server went
        /// away): join again, and the meeting continues on a live media server.
        rejoin: bool,
    },
    /// A request failed; nothing was changed.
    Error {
        request_id: Option<String>,
        error: ErrorView,
    },
}

/// The same shape as the REST error body's `error`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS, ToSchema)]
pub struct ErrorView {
    pub code: String,
    pub message: String,
}
