//! Keyframe requests towards publishers, throttled.
//!
//! Every new subscriber and every layer switch needs a keyframe, and a room of 20 joining at
//! once would otherwise make each publisher's encoder emit 20 keyframes in a burst, each several
//! times the size of a normal frame. A request within [`KEYFRAME_REQUEST_INTERVAL`] of the last
//! one sent for the same stream is remembered and sent once the interval has passed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::{LayerIndex, TrackId};

/// At most one keyframe request per publisher stream (one simulcast layer) per interval.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct KeyframeThrottle {
    last_sent: BTreeMap<(TrackId, LayerIndex), Instant>,
    deferred: BTreeMap<(TrackId, LayerIndex), Instant>,
}

impl KeyframeThrottle {
    /// Whether a request for this stream may go out now; when not, it is deferred and
    /// [`Self::due`] hands it back once the interval has passed.
    pub(crate) fn request(&mut self, track: TrackId, layer: LayerIndex, now: Instant) -> bool {
        let key = (track, layer);
        match self.last_sent.get(&key) {
            Some(&last) if now.duration_since(last) < KEYFRAME_REQUEST_INTERVAL => {
                self.deferred.insert(key, last + KEYFRAME_REQUEST_INTERVAL);
                false
            }
            _ => {
                self.last_sent.insert(key, now);
                self.deferred.remove(&key);
                true
            }
        }
    }

    /// Deferred requests whose time has come; each counts as sent now.
    pub(crate) fn due(&mut self, now: Instant) -> Vec<(TrackId, LayerIndex)> {
        let due: Vec<_> = self
            .deferred
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(key, _)| *key)
            .collect();
        for key in &due {
            self.deferred.remove(key);
            self.last_sent.insert(*key, now);
        }
        due
    }

    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.deferred.values().min().copied()
    }

    pub(crate) fn forget_track(&mut self, track: TrackId) {
        self.last_sent.retain(|(t, _), _| *t != track);
        self.deferred.retain(|(t, _), _| *t != track);
    }
}
