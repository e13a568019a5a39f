//! What a participant sent and received, packet by packet, for tests to assert on and the
//! benchmark to measure.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use super::media::{Stamp, vp8_starts_keyframe};
use crate::forwarding::MediaKind;

/// What a peer (or a participant's two peers) sent and received, shared with its tasks.
pub type SharedMediaLog = Arc<Mutex<MediaLog>>;

pub(crate) fn lock(log: &SharedMediaLog) -> std::sync::MutexGuard<'_, MediaLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
pub struct MediaLog {
    pub received: HashMap<RemoteStreamKey, ReceivedStream>,
    pub sent_video: SentVideo,
    pub sent_audio_packets: u64,
}

impl MediaLog {
    pub fn received(&self, stream_id: &str, kind: MediaKind) -> Option<&ReceivedStream> {
        self.received.get(&RemoteStreamKey {
            stream_id: stream_id.to_owned(),
            kind,
        })
    }
}

/// A track received from the SFU: the publisher's stream id (its session id) and the kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteStreamKey {
    pub stream_id: String,
    pub kind: MediaKind,
}

#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub at: Instant,
    pub sequence_number: u16,
    pub stamp: Option<Stamp>,
    /// The first packet of a VP8 keyframe.
    pub keyframe_start: bool,
    /// The stamp's packet arrived before (a retransmission that was not needed).
    pub duplicate: bool,
}

#[derive(Debug, Default)]
pub struct ReceivedStream {
    /// Every packet, in arrival order.
    pub arrivals: Vec<Arrival>,
    seen: HashSet<u32>,
}

impl ReceivedStream {
    pub(crate) fn record(&mut self, at: Instant, packet: &rtc::rtp::Packet, kind: MediaKind) {
        let stamp = Stamp::read(&packet.payload);
        let duplicate = stamp.is_some_and(|stamp| !self.seen.insert(stamp.packet_index));
        self.arrivals.push(Arrival {
            at,
            sequence_number: packet.header.sequence_number,
            stamp,
            keyframe_start: kind == MediaKind::Video && vp8_starts_keyframe(&packet.payload),
            duplicate,
        });
    }

    /// Packets received, retransmissions included.
    pub fn packets(&self) -> usize {
        self.arrivals.len()
    }

    /// Distinct packets (by the publisher's packet index) received.
    pub fn distinct_packets(&self) -> usize {
        self.seen.len()
    }

    pub fn contains(&self, packet_index: u32) -> bool {
        self.seen.contains(&packet_index)
    }

    /// Distinct RTP sequence numbers received (16-bit, so meaningful below 65 536 packets).
    pub fn distinct_sequence_numbers(&self) -> usize {
        let numbers: HashSet<u16> = self.arrivals.iter().map(|a| a.sequence_number).collect();
        numbers.len()
    }

    /// Packets missing between the first and the last packet index received.
    pub fn missing(&self) -> usize {
        let (Some(first), Some(last)) = (self.seen.iter().min(), self.seen.iter().max()) else {
            return 0;
        };
        (last - first + 1) as usize - self.seen.len()
    }

    pub fn first(&self) -> Option<&Arrival> {
        self.arrivals.first()
    }

    pub fn keyframes(&self) -> usize {
        self.arrivals.iter().filter(|a| a.keyframe_start).count()
    }
}

#[derive(Debug, Default)]
pub struct SentVideo {
    /// The RTP sequence number of packet index 0 (they then count up together).
    pub first_sequence_number: Option<u16>,
    pub frames: u32,
    /// When each packet (by packet index) was handed to the peer connection.
    pub packet_sent_at: Vec<Instant>,
    /// Frame numbers of the keyframes sent.
    pub keyframes: Vec<u32>,
    pub keyframe_requests: Vec<KeyframeRequest>,
}

/// A PLI or FIR about our video, as it reached us.
#[derive(Debug, Clone, Copy)]
pub struct KeyframeRequest {
    pub at: Instant,
    /// The frame the source was about to send, which answers it with a keyframe.
    pub next_frame: u32,
}
