//! Convene's selective forwarding unit.
//!
//! [`forwarding`] is the sans-IO core of a room: subscriptions, simulcast layer choice,
//! keyframe requests and active-speaker detection, driven by inputs and virtual time.
//! [`driver`] owns the one UDP socket and the WebRTC peer connections (webrtc-rs's sans-IO
//! `rtc`) and feeds the core.
//!
//! Architecture invariant: this crate knows nothing about HTTP, SQL or Redis; the gateway
//! (in-process, or over the internal API) tells it who joins which room.

pub mod driver;
mod error;
pub mod forwarding;
#[cfg(feature = "testing")]
pub mod testing;

pub use driver::{
    HostAction, JoinRequest, ParticipantState, PublishedSource, RosterEntry, RosterStream,
    SessionCommand, SessionCommands, SessionEvent, SfuConfig, SfuLoad, SfuNode, SfuSession,
    WaitingEntry,
};
pub use error::{Error, Result};
