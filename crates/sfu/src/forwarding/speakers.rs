//! Active-speaker detection from the audio-level header extension (RFC 6464).
//!
//! Each audio packet carries the sender's level in -dBov (0 = loudest, 127 = silence), so
//! the SFU never decodes audio. A packet louder than a threshold counts as voice; per
//! analysis window a participant's *activity* is the share of voiced packets, smoothed over
//! windows. Speech is bursty (syllables, pauses), so the share of voiced packets says more
//! than the mean level, which silence between words drags down. Participants above an
//! activity threshold are speaking; the dominant speaker changes only when someone else is
//! clearly more active, or louder, so the highlighted tile does not flicker between two
//! people talking over each other.

use std::collections::BTreeMap;

use super::ParticipantId;

/// Louder than -60 dBov counts as voice: speech after the browser's gain control sits
/// around -20 to -50 dBov, a quiet room with noise suppression near -127.
const VOICE_LEVEL_DBOV: u8 = 60;
/// Weight of the newest window in the smoothed activity.
const SMOOTHING: f32 = 0.5;
/// Speaking: at least this share of recent packets are voiced.
const SPEAKING_ACTIVITY: f32 = 0.3;
/// A challenger's score (activity × loudness) must exceed the dominant speaker's by this
/// factor to take over.
const DOMINANT_MARGIN: f32 = 1.25;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ActiveSpeakers {
    /// The one tile to highlight and to show large in the speaker layout.
    pub dominant: Option<ParticipantId>,
    /// Everyone speaking now, most active first (includes the dominant speaker).
    pub speaking: Vec<ParticipantId>,
}

#[derive(Debug, Default)]
struct Levels {
    window_packets: u32,
    window_voiced: u32,
    window_voiced_loudness: f32,
    activity: f32,
    /// Mean loudness (127 - level) of recent voiced packets.
    loudness: f32,
}

impl Levels {
    fn score(&self) -> f32 {
        self.activity * self.loudness
    }
}

#[derive(Debug, Default)]
pub(crate) struct SpeakerDetector {
    levels: BTreeMap<ParticipantId, Levels>,
    current: ActiveSpeakers,
}

impl SpeakerDetector {
    pub(crate) fn observe(&mut self, participant: ParticipantId, level_dbov: u8) {
        let levels = self.levels.entry(participant).or_default();
        levels.window_packets += 1;
        if level_dbov <= VOICE_LEVEL_DBOV {
            levels.window_voiced += 1;
            levels.window_voiced_loudness += 127.0 - f32::from(level_dbov);
        }
    }

    pub(crate) fn forget(&mut self, participant: ParticipantId) {
        self.levels.remove(&participant);
    }

    /// Closes the analysis window; returns the new state when it changed.
    pub(crate) fn end_window(&mut self) -> Option<ActiveSpeakers> {
        for levels in self.levels.values_mut() {
            // No packet in a window means muted or silent (DTX): no activity.
            let window_activity = if levels.window_packets == 0 {
                0.0
            } else {
                levels.window_voiced as f32 / levels.window_packets as f32
            };
            levels.activity = SMOOTHING * window_activity + (1.0 - SMOOTHING) * levels.activity;
            if levels.window_voiced > 0 {
                let window_loudness = levels.window_voiced_loudness / levels.window_voiced as f32;
                levels.loudness = SMOOTHING * window_loudness + (1.0 - SMOOTHING) * levels.loudness;
            }
            levels.window_packets = 0;
            levels.window_voiced = 0;
            levels.window_voiced_loudness = 0.0;
        }
        let mut speaking: Vec<(ParticipantId, f32)> = self
            .levels
            .iter()
            .filter(|(_, levels)| levels.activity >= SPEAKING_ACTIVITY)
            .map(|(participant, levels)| (*participant, levels.score()))
            .collect();
        speaking.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));

        let score_of = |participant: ParticipantId| {
            speaking
                .iter()
                .find(|(p, _)| *p == participant)
                .map(|(_, score)| *score)
        };
        let dominant = match (self.current.dominant, speaking.first()) {
            // Nobody speaks: the last dominant speaker stays (the speaker layout keeps them).
            (_, None) => self
                .current
                .dominant
                .filter(|p| self.levels.contains_key(p)),
            (Some(current), Some(&(loudest, loudest_score))) => match score_of(current) {
                Some(current_score) if loudest_score < current_score * DOMINANT_MARGIN => {
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
