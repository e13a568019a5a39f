//! Active-speaker detection from the audio-level header extension (RFC 6464).
//!
//! Each audio packet carries the sender's level in -dBov (0 = loudest, 127 = silence), so
//! the SFU never decodes audio. Per analysis window the loudness of a participant's packets
//! is averaged and smoothed; participants above a threshold are speaking, and the dominant
//! speaker changes only when someone else is clearly louder, so the highlighted tile does
//! not flicker between two people talking over each other.

use std::collections::BTreeMap;

use super::ParticipantId;

/// Louder than -60 dBov counts as speech; Chromium's fake microphone and a real voice both
/// sit well above it, a quiet room with noise suppression well below.
const SPEAKING_LOUDNESS: f32 = 127.0 - 60.0;
/// Weight of the newest window in the smoothed loudness.
const SMOOTHING: f32 = 0.5;
/// A challenger must be this much louder (dB) to take over as dominant speaker.
const DOMINANT_MARGIN: f32 = 6.0;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActiveSpeakers {
    /// The one tile to highlight and to show large in the speaker layout.
    pub dominant: Option<ParticipantId>,
    /// Everyone speaking now, loudest first (includes the dominant speaker).
    pub speaking: Vec<ParticipantId>,
}

#[derive(Debug, Default)]
struct Levels {
    window_loudness_sum: f32,
    window_packets: u32,
    smoothed_loudness: f32,
}

#[derive(Debug, Default)]
pub(crate) struct SpeakerDetector {
    levels: BTreeMap<ParticipantId, Levels>,
    current: ActiveSpeakers,
}

impl SpeakerDetector {
    pub(crate) fn observe(&mut self, participant: ParticipantId, level_dbov: u8) {
        let levels = self.levels.entry(participant).or_default();
        levels.window_loudness_sum += 127.0 - f32::from(level_dbov.min(127));
        levels.window_packets += 1;
    }

    pub(crate) fn forget(&mut self, participant: ParticipantId) {
        self.levels.remove(&participant);
    }

    /// Closes the analysis window; returns the new state when it changed.
    pub(crate) fn end_window(&mut self) -> Option<ActiveSpeakers> {
        for levels in self.levels.values_mut() {
            // No packet in a window means muted or silent (DTX): count it as silence.
            let window_loudness = if levels.window_packets == 0 {
                0.0
            } else {
                levels.window_loudness_sum / levels.window_packets as f32
            };
            levels.smoothed_loudness =
                SMOOTHING * window_loudness + (1.0 - SMOOTHING) * levels.smoothed_loudness;
            levels.window_loudness_sum = 0.0;
            levels.window_packets = 0;
        }
        let mut speaking: Vec<(ParticipantId, f32)> = self
            .levels
            .iter()
            .filter(|(_, levels)| levels.smoothed_loudness >= SPEAKING_LOUDNESS)
            .map(|(participant, levels)| (*participant, levels.smoothed_loudness))
            .collect();
        speaking.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

        let loudness_of = |participant: ParticipantId| {
            speaking
                .iter()
                .find(|(p, _)| *p == participant)
                .map(|(_, loudness)| *loudness)
        };
        let dominant = match (self.current.dominant, speaking.first()) {
            (_, None) => self
                .current
                .dominant
                .filter(|p| self.levels.contains_key(p)),
            (Some(current), Some(&(loudest, loudest_loudness))) => match loudness_of(current) {
                Some(current_loudness) if loudest_loudness - current_loudness < DOMINANT_MARGIN => {
                    Some(current)
                }
                _ => Some(loudest),
            },
            (None, Some(&(loudest, _))) => Some(loudest),
        };
        let next = ActiveSpeakers {
            dominant,
            speaking: speaking.into_iter().map(|(p, _)| p).collect(),
        };
        if next == self.current {
            return None;
        }
        self.current = next.clone();
        Some(next)
    }
}
