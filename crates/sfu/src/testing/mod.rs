//! Headless WebRTC participants for the integration tests and the forwarding benchmark
//! (feature `testing`).
//!
//! A [`Participant`] is what a browser tab is to the SFU: it joins through
//! [`SfuNode::join`](crate::SfuNode::join), offers its microphone and camera on a *publish*
//! peer connection, answers the SFU's *subscribe* offers, and talks to the node's real UDP
//! socket over loopback with webrtc-rs's async `webrtc` crate, a separate WebRTC stack from
//! the node's own. Media is synthetic ([`media`]) but shaped like Chromium's where the SFU
//! looks: VP8 payload descriptors and keyframe headers, Opus with the audio-level extension,
//! NACK and PLI. Each packet carries a stamp, so a receiver knows which packet of which frame
//! it got and how long it took ([`MediaLog`]).
//!
//! [`UdpRelay`] sits between a peer and whatever it talks to, to lose packets on purpose or to
//! give the benchmark a plain-forwarding baseline.

mod log;
pub mod media;
mod participant;
mod peer;
mod relay;
pub mod sdp;
mod sources;

use std::time::{Duration, Instant};

pub use log::{
    Arrival, KeyframeRequest, MediaLog, ReceivedStream, RemoteStreamKey, SentVideo, SharedMediaLog,
};
pub use media::{Stamp, VideoPattern};
pub use participant::{Participant, ParticipantOptions, RelayedSignalling, Signalling};
pub use peer::{Peer, Tasks, local_track};
pub use relay::{LossPattern, RelayCounts, Toward, UdpRelay};
pub use sources::{spawn_audio_source, spawn_video_source};

/// Waits until `condition` holds, checking every 50 ms; an error naming `what` after
/// `timeout`. Tests wait on what they assert rather than sleeping a guessed time.
pub async fn eventually(
    what: &str,
    timeout: Duration,
    mut condition: impl FnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if condition() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            anyhow::bail!("timed out after {timeout:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
