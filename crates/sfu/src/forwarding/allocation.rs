//! Which simulcast layer each of a subscriber's video tracks gets.
//!
//! The subscriber's downlink estimate is a budget spent in priority order: screen shares
//! first (text must stay readable), then the dominant speaker, then everyone else. Each
//! track gets the highest layer being sent that its tile can use and the remaining budget
//! can pay for, and never less than its lowest layer: a visible video is not paused for
//! bandwidth, because the browser's estimate (REMB) grows only from what it receives, and a
//! paused video would starve the estimate that could bring it back. A track not measured
//! yet starts on its lowest layer.

use super::{LayerIndex, TrackId, TrackSource, ViewPreference};

#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    pub(crate) track: TrackId,
    pub(crate) source: TrackSource,
    pub(crate) from_dominant_speaker: bool,
    pub(crate) preference: ViewPreference,
    /// Measured bits per second of each layer, lowest first; 0 when not measured yet.
    pub(crate) layer_bitrates: Vec<u64>,
}

impl Candidate {
    fn priority(&self) -> u8 {
        match (self.source, self.from_dominant_speaker) {
            (TrackSource::ScreenShare, _) => 0,
            (_, true) => 1,
            _ => 2,
        }
    }
}

/// Returns each candidate's layer (`None` = paused), in the order given.
pub(crate) fn choose_layers(
    budget_bits_per_second: Option<u64>,
    candidates: &[Candidate],
) -> Vec<Option<LayerIndex>> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    order.sort_by_key(|&candidate_idx| {
        (
            candidates[candidate_idx].priority(),
            candidates[candidate_idx].track,
        )
    });

    let mut remaining = budget_bits_per_second.unwrap_or(u64::MAX);
    let mut chosen = vec![None; candidates.len()];
    for candidate_idx in order {
        let candidate = &candidates[candidate_idx];
        if !candidate.preference.visible || candidate.layer_bitrates.is_empty() {
            continue;
        }
        // A layer with no measured bitrate is not being sent (the publisher's encoder drops
        // layers its resolution or uplink cannot carry), so it is never a target.
        let active: Vec<usize> = (0..candidate.layer_bitrates.len())
            .filter(|&layer_idx| candidate.layer_bitrates[layer_idx] > 0)
            .collect();
        let Some(&lowest_active) = active.first() else {
            // Nothing measured yet (a new track): start low and move up once measured.
            chosen[candidate_idx] = Some(0);
            continue;
        };
        let max_layer = usize::from(candidate.preference.max_layer).max(lowest_active);
        let affordable = active
            .iter()
            .rev()
            .filter(|&&layer_idx| layer_idx <= max_layer)
            .find(|&&layer_idx| candidate.layer_bitrates[layer_idx] <= remaining);
        let layer_idx = affordable.copied().unwrap_or(lowest_active);
        remaining = remaining.saturating_sub(candidate.layer_bitrates[layer_idx]);
        chosen[candidate_idx] = Some(layer_idx as LayerIndex);
    }
    chosen
}
