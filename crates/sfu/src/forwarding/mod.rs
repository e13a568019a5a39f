//! The forwarding core of one room: who receives what, at which quality, and when a
//! publisher must send a keyframe. Sans-IO in the str0m style: the driver feeds
//! [`RoomInput`]s with the current time and drains [`RoomOutput`]s; the room owns no socket,
//! task, lock or clock, so every rule is tested on virtual time.
//!
//! Architecture invariant: nothing here knows about WebRTC, SDP, sockets or the gateway.
//! Packets arrive as their few header facts ([`IncomingRtp`]); the driver keeps the bytes.

mod allocation;
mod downtrack;
mod keyframes;
mod room;
mod speakers;

pub use downtrack::RewrittenHeader;
pub use keyframes::KEYFRAME_REQUEST_INTERVAL;
pub use room::{ANALYSIS_INTERVAL, Room};
pub use speakers::ActiveSpeakers;

/// A participant's id within one room, chosen by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParticipantId(pub u64);

/// A published track's id within one room, chosen by the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TrackId(pub u64);

/// Simulcast layer, 0 = lowest resolution. A track without simulcast has only layer 0.
pub type LayerIndex = u8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

/// What a track shows, which decides its priority when bandwidth is short. Also named in
/// the control API, hence serde.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrackSource {
    Microphone,
    Camera,
    ScreenShare,
}

/// A published track as the room needs to know it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublishedTrack {
    pub id: TrackId,
    pub publisher: ParticipantId,
    pub kind: MediaKind,
    pub source: TrackSource,
    /// 1 without simulcast, 3 with Chromium's usual q/h/f layers.
    pub n_layers: u8,
    pub clock_rate: u32,
}

/// The header facts of one packet from a publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncomingRtp {
    pub track: TrackId,
    pub layer: LayerIndex,
    pub sequence_number: u16,
    pub timestamp: u32,
    /// First packet of a keyframe (the driver reads the codec's payload descriptor).
    pub keyframe: bool,
    /// RFC 6464 level in -dBov, when the audio-level extension was present.
    pub audio_level: Option<u8>,
    /// Bytes on the wire, for measuring each layer's bitrate.
    pub size: usize,
}

/// How a subscriber wants to see one track, from the tile it draws it in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewPreference {
    /// Off-screen tiles (another page of the grid, a minimised window) are paused.
    pub visible: bool,
    /// The highest layer worth sending for the tile's size.
    pub max_layer: LayerIndex,
}

impl Default for ViewPreference {
    fn default() -> Self {
        Self {
            visible: true,
            max_layer: LayerIndex::MAX,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomInput {
    Join(ParticipantId),
    Leave(ParticipantId),
    Publish(PublishedTrack),
    Unpublish(TrackId),
    Rtp(IncomingRtp),
    /// A subscriber's decoder needs a keyframe (its PLI or FIR).
    KeyframeRequest {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// The subscriber's estimated downlink (REMB or transport-wide congestion control).
    Bandwidth {
        subscriber: ParticipantId,
        bits_per_second: u64,
    },
    Preference {
        subscriber: ParticipantId,
        track: TrackId,
        preference: ViewPreference,
    },
    /// The subscriber can now receive this track (its connection is up, and the sender for
    /// the track negotiated): forwarding starts, video from a keyframe.
    SubscriptionReady {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// The time returned by [`Room::poll_timeout`] has come.
    Timeout,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomOutput {
    /// Send the packet just handed in to this subscriber's copy of the track, with these
    /// header fields (the driver sets the subscriber's SSRC and payload type).
    Forward {
        subscriber: ParticipantId,
        track: TrackId,
        header: RewrittenHeader,
    },
    /// Ask the publisher for a keyframe on this layer (a PLI on that layer's SSRC).
    RequestKeyframe {
        track: TrackId,
        layer: LayerIndex,
    },
    /// The subscriber now receives this track: add a sender, renegotiate, and hand in
    /// [`RoomInput::SubscriptionReady`] once it can be delivered.
    Subscribed {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// The track is gone for this subscriber: remove the sender and renegotiate.
    Unsubscribed {
        subscriber: ParticipantId,
        track: TrackId,
    },
    /// The layer a subscriber receives changed (`None` = paused), for its quality indicator.
    LayerChanged {
        subscriber: ParticipantId,
        track: TrackId,
        layer: Option<LayerIndex>,
    },
    ActiveSpeakers(ActiveSpeakers),
    /// The last participant left; the driver drops the room.
    Closed,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoomError {
    #[error("participant {0:?} is not in the room")]
    UnknownParticipant(ParticipantId),
    #[error("track {0:?} is not published in the room")]
    UnknownTrack(TrackId),
    #[error("track {0:?} is already published")]
    DuplicateTrack(TrackId),
    #[error("the room is closed")]
    Closed,
}

#[cfg(test)]
mod tests;
