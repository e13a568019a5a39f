//! One published track as one subscriber receives it: which simulcast layer, and the
//! sequence-number and timestamp rewriting that makes a layer switch invisible.
//!
//! Each simulcast layer is its own RTP stream with its own SSRC, sequence numbers and
//! timestamp origin, but the subscriber sees one stream. So a switch happens only on a
//! keyframe of the target layer (the decoder needs no earlier frame), and from then on the
//! layer's numbers are shifted to continue where the previous layer stopped.

use std::time::Instant;

use super::{IncomingRtp, LayerIndex};

/// What the subscriber's stream carries for one incoming packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RewrittenHeader {
    pub sequence_number: u16,
    pub timestamp: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Forward(RewrittenHeader),
    /// Not forwarded; when `wants_keyframe`, the target layer needs a keyframe to start.
    Drop {
        wants_keyframe: bool,
    },
}

#[derive(Debug)]
pub(crate) struct DownTrack {
    /// RTP clock rate of the codec (90 kHz video, 48 kHz Opus), to carry timestamps across a
    /// switch by elapsed time.
    clock_rate: u32,
    /// The layer being forwarded; `None` before the first keyframe and while paused.
    pub(crate) current: Option<LayerIndex>,
    /// The layer we want; `None` = paused (tile off-screen, or no bandwidth).
    pub(crate) target: Option<LayerIndex>,
    sequence_offset: u16,
    timestamp_offset: u32,
    /// The input sequence number the current layer started on. Browsers resend NACKed
    /// packets late on the same SSRC; one from before this point is of no use to this
    /// subscriber's decoder and would map onto numbers already delivered.
    start_sequence_number: u16,
    last_out: Option<LastOut>,
    /// Audio starts on any packet; video waits for a keyframe.
    needs_keyframe_to_start: bool,
}

#[derive(Debug, Clone, Copy)]
struct LastOut {
    sequence_number: u16,
    timestamp: u32,
    at: Instant,
}

impl DownTrack {
    pub(crate) fn new(
        clock_rate: u32,
        needs_keyframe_to_start: bool,
        target: Option<LayerIndex>,
    ) -> Self {
        Self {
            clock_rate,
            current: None,
            target,
            sequence_offset: 0,
            timestamp_offset: 0,
            start_sequence_number: 0,
            last_out: None,
            needs_keyframe_to_start,
        }
    }

    pub(crate) fn set_target(&mut self, target: Option<LayerIndex>) {
        self.target = target;
        if target.is_none() {
            // Pausing takes effect at once; resuming waits for a keyframe.
            self.current = None;
        }
    }

    pub(crate) fn wants_keyframe(&self) -> Option<LayerIndex> {
        match (self.current, self.target) {
            (current, Some(target)) if current != Some(target) && self.needs_keyframe_to_start => {
                Some(target)
            }
            _ => None,
        }
    }

    pub(crate) fn on_packet(&mut self, packet: &IncomingRtp, now: Instant) -> Verdict {
        let Some(target) = self.target else {
            return Verdict::Drop {
                wants_keyframe: false,
            };
        };
        if packet.layer == target && self.current != Some(target) {
            if packet.keyframe || !self.needs_keyframe_to_start {
                self.switch_to(packet, now);
            } else if self.current != Some(packet.layer) {
                return Verdict::Drop {
                    wants_keyframe: true,
                };
            }
        }
        if self.current != Some(packet.layer)
            || sequence_is_newer(self.start_sequence_number, packet.sequence_number)
        {
            return Verdict::Drop {
                wants_keyframe: false,
            };
        }
        let header = RewrittenHeader {
            sequence_number: packet.sequence_number.wrapping_add(self.sequence_offset),
            timestamp: packet.timestamp.wrapping_add(self.timestamp_offset),
        };
        let is_newer = self
            .last_out
            .is_none_or(|last| sequence_is_newer(header.sequence_number, last.sequence_number));
        if is_newer {
            self.last_out = Some(LastOut {
                sequence_number: header.sequence_number,
                timestamp: header.timestamp,
                at: now,
            });
        }
        Verdict::Forward(header)
    }

    fn switch_to(&mut self, packet: &IncomingRtp, now: Instant) {
        let (sequence_number, timestamp) = match self.last_out {
            None => (packet.sequence_number, packet.timestamp),
            Some(last) => {
                let elapsed = now.duration_since(last.at);
                // At least one tick later, so the new frame never shares a timestamp with the
                // last frame of the old layer.
                let ticks =
                    (elapsed.as_micros() as u64 * u64::from(self.clock_rate) / 1_000_000).max(1);
                (
                    last.sequence_number.wrapping_add(1),
                    last.timestamp.wrapping_add(ticks as u32),
                )
            }
        };
        self.start_sequence_number = packet.sequence_number;
        self.sequence_offset = sequence_number.wrapping_sub(packet.sequence_number);
        self.timestamp_offset = timestamp.wrapping_sub(packet.timestamp);
        self.current = Some(packet.layer);
    }
}

/// RFC 1982 serial-number comparison for 16-bit RTP sequence numbers.
pub(crate) fn sequence_is_newer(candidate: u16, reference: u16) -> bool {
    candidate != reference && candidate.wrapping_sub(reference) < 0x8000
}
