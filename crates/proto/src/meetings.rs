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
    pub streams: Vec<MeetingStreamView>,
}
