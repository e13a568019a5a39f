//! Shapes of meeting media (group video through the SFU), shared by the frames.

use serde::{Deserialize, Serialize};
use ts_rs::TS;
use uuid::Uuid;

/// What a published track shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum MeetingSourceKindView {
    Microphone,
    Camera,
    ScreenShare,
}

/// One track of the publish connection's offer, by its transceiver's `mid`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(deny_unknown_fields)]
pub struct MeetingSourceView {
    pub mid: String,
    pub source: MeetingSourceKindView,
    /// Simulcast layers sent with rids `q`, `h`, `f` (lowest first); 1 without simulcast.
    pub layers: u8,
}

/// A video stream a participant publishes; its tracks arrive on the subscribe connection
/// with this `MediaStream.id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MeetingStreamView {
    pub stream_id: String,
    pub source: MeetingSourceKindView,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MeetingParticipantView {
    /// This participant's presence in the meeting (one per tab that joined).
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
    pub audio_muted: bool,
    pub video_muted: bool,
    pub hand_raised: bool,
    pub host: bool,
    pub streams: Vec<MeetingStreamView>,
}

/// Someone in the lobby, knocking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct MeetingWaitingView {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
}

/// What a host can do to the meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MeetingHostActionView {
    /// Mutes someone's microphone (they may unmute themselves).
    Mute {
        session_id: Uuid,
    },
    /// Removes someone from the meeting.
    Remove {
        session_id: Uuid,
    },
    /// Lets someone in the lobby in, or turns them away.
    Admit {
        session_id: Uuid,
    },
    Deny {
        session_id: Uuid,
    },
    /// Locked: everyone new knocks.
    Lock {
        locked: bool,
    },
    /// Ends the meeting for everyone in it.
    EndForAll,
}
