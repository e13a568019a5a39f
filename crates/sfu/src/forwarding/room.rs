use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use super::allocation::{Candidate, choose_layers};
use super::downtrack::{DownTrack, Verdict};
use super::keyframes::KeyframeThrottle;
use super::speakers::SpeakerDetector;
use super::{
    IncomingRtp, LayerIndex, MediaKind, ParticipantId, PublishedTrack, RoomError, RoomInput,
    RoomOutput, TrackId, ViewPreference,
};

/// How often layer bitrates are measured, speakers re-evaluated and layers re-allocated.
pub const ANALYSIS_INTERVAL: Duration = Duration::from_millis(250);

#[derive(Debug, Default)]
struct Participant {
    bandwidth_bits_per_second: Option<u64>,
}

#[derive(Debug)]
struct Track {
    info: PublishedTrack,
    window_bytes_per_layer: Vec<u64>,
    bitrate_per_layer: Vec<u64>,
}

#[derive(Debug)]
struct Subscription {
    downtrack: DownTrack,
    preference: ViewPreference,
    /// The driver can deliver this track to the subscriber (its connection is up and has a
    /// sender for it). Until then nothing is forwarded, so the first packet the subscriber
    /// gets is a keyframe rather than one lost before its DTLS handshake ended.
    ready: bool,
}

/// One room's forwarding state. Every participant receives every other participant's tracks
/// (a meeting, not a broadcast); what varies is the layer and whether it is paused.
#[derive(Debug, Default)]
pub struct Room {
    participants: BTreeMap<ParticipantId, Participant>,
    tracks: BTreeMap<TrackId, Track>,
    /// Keyed track first, so the fan-out of one packet is one range scan.
    subscriptions: BTreeMap<(TrackId, ParticipantId), Subscription>,
    keyframes: KeyframeThrottle,
    speakers: SpeakerDetector,
    dominant_speaker: Option<ParticipantId>,
    outputs: VecDeque<RoomOutput>,
    next_analysis: Option<Instant>,
    closed: bool,
}

impl Room {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn n_participants(&self) -> usize {
        self.participants.len()
    }

    pub fn n_tracks(&self) -> usize {
        self.tracks.len()
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    pub fn poll_output(&mut self) -> Option<RoomOutput> {
        self.outputs.pop_front()
    }

    /// When to hand in [`RoomInput::Timeout`] next; `None` once the room is closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        [self.next_analysis, self.keyframes.next_due()]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn handle_input(&mut self, input: RoomInput, now: Instant) -> Result<(), RoomError> {
        if self.closed {
            return Err(RoomError::Closed);
        }
        match input {
            RoomInput::Join(participant) => self.join(participant, now),
            RoomInput::Leave(participant) => self.leave(participant),
            RoomInput::Publish(track) => self.publish(track, now),
            RoomInput::Unpublish(track) => self.unpublish(track),
            RoomInput::Rtp(packet) => self.forward(&packet, now),
            RoomInput::KeyframeRequest { subscriber, track } => {
                self.keyframe_requested(subscriber, track, now)
            }
            RoomInput::Bandwidth {
                subscriber,
                bits_per_second,
            } => {
                let participant = self
                    .participants
                    .get_mut(&subscriber)
                    .ok_or(RoomError::UnknownParticipant(subscriber))?;
                participant.bandwidth_bits_per_second = Some(bits_per_second);
                self.allocate(subscriber, now);
                Ok(())
            }
            RoomInput::Preference {
                subscriber,
                track,
                preference,
            } => {
                let subscription = self
                    .subscriptions
                    .get_mut(&(track, subscriber))
                    .ok_or(RoomError::UnknownTrack(track))?;
                subscription.preference = preference;
                self.allocate(subscriber, now);
                Ok(())
            }
            RoomInput::SubscriptionReady { subscriber, track } => {
                let subscription = self
                    .subscriptions
                    .get_mut(&(track, subscriber))
                    .ok_or(RoomError::UnknownTrack(track))?;
                if !subscription.ready {
                    subscription.ready = true;
                    self.allocate(subscriber, now);
                }
                Ok(())
            }
            RoomInput::Timeout => {
                self.timeout(now);
                Ok(())
            }
        }
    }

    fn join(&mut self, participant: ParticipantId, now: Instant) -> Result<(), RoomError> {
        if self.participants.contains_key(&participant) {
            return Ok(());
        }
        self.participants
            .insert(participant, Participant::default());
        self.next_analysis.get_or_insert(now + ANALYSIS_INTERVAL);
        let existing: Vec<PublishedTrack> = self.tracks.values().map(|track| track.info).collect();
        for track in existing {
            self.subscribe(participant, &track);
        }
        self.allocate(participant, now);
        Ok(())
    }

    fn leave(&mut self, participant: ParticipantId) -> Result<(), RoomError> {
        if self.participants.remove(&participant).is_none() {
            return Err(RoomError::UnknownParticipant(participant));
        }
        let published: Vec<TrackId> = self
            .tracks
            .values()
            .filter(|track| track.info.publisher == participant)
            .map(|track| track.info.id)
            .collect();
        for track in published {
            self.unpublish(track)?;
        }
        self.subscriptions
            .retain(|(_, subscriber), _| *subscriber != participant);
        self.speakers.forget(participant);
        if self.dominant_speaker == Some(participant) {
            self.dominant_speaker = None;
        }
        if self.participants.is_empty() {
            self.closed = true;
            self.next_analysis = None;
            self.outputs.push_back(RoomOutput::Closed);
        }
        Ok(())
    }

    fn publish(&mut self, info: PublishedTrack, now: Instant) -> Result<(), RoomError> {
        if !self.participants.contains_key(&info.publisher) {
            return Err(RoomError::UnknownParticipant(info.publisher));
        }
        if self.tracks.contains_key(&info.id) {
            return Err(RoomError::DuplicateTrack(info.id));
        }
        let n_layers = usize::from(info.n_layers.max(1));
        self.tracks.insert(
            info.id,
            Track {
                info,
                window_bytes_per_layer: vec![0; n_layers],
                bitrate_per_layer: vec![0; n_layers],
            },
        );
        let subscribers: Vec<ParticipantId> = self
            .participants
            .keys()
            .copied()
            .filter(|participant| *participant != info.publisher)
            .collect();
        for subscriber in subscribers {
            self.subscribe(subscriber, &info);
            self.allocate(subscriber, now);
        }
        Ok(())
    }

    fn subscribe(&mut self, subscriber: ParticipantId, track: &PublishedTrack) {
        if track.publisher == subscriber {
            return;
        }
        let needs_keyframe = track.kind == MediaKind::Video;
        // Nothing flows until the driver says the subscription is ready.
        self.subscriptions.insert(
            (track.id, subscriber),
            Subscription {
                downtrack: DownTrack::new(track.clock_rate, needs_keyframe, None),
                preference: ViewPreference::default(),
                ready: false,
            },
        );
        self.outputs.push_back(RoomOutput::Subscribed {
            subscriber,
            track: track.id,
        });
    }

    fn unpublish(&mut self, track: TrackId) -> Result<(), RoomError> {
        if self.tracks.remove(&track).is_none() {
            return Err(RoomError::UnknownTrack(track));
        }
        let subscribers: Vec<ParticipantId> = self
            .subscriptions
            .range((track, ParticipantId(0))..=(track, ParticipantId(u64::MAX)))
            .map(|((_, subscriber), _)| *subscriber)
            .collect();
        for subscriber in subscribers {
            self.subscriptions.remove(&(track, subscriber));
            self.outputs
                .push_back(RoomOutput::Unsubscribed { subscriber, track });
        }
        self.keyframes.forget_track(track);
        Ok(())
    }

    fn forward(&mut self, packet: &IncomingRtp, now: Instant) -> Result<(), RoomError> {
        let track = self
            .tracks
            .get_mut(&packet.track)
            .ok_or(RoomError::UnknownTrack(packet.track))?;
        let publisher = track.info.publisher;
        if let Some(bytes) = track
            .window_bytes_per_layer
            .get_mut(usize::from(packet.layer))
        {
            *bytes += packet.size as u64;
        }
        if let Some(level) = packet.audio_level {
            self.speakers.observe(publisher, level);
        }
        let mut keyframe_wanted = false;
        for ((_, subscriber), subscription) in self
            .subscriptions
            .range_mut((packet.track, ParticipantId(0))..=(packet.track, ParticipantId(u64::MAX)))
        {
            match subscription.downtrack.on_packet(packet, now) {
                Verdict::Forward(header) => self.outputs.push_back(RoomOutput::Forward {
                    subscriber: *subscriber,
                    track: packet.track,
                    header,
                }),
                Verdict::Drop { wants_keyframe } => keyframe_wanted |= wants_keyframe,
            }
        }
        if keyframe_wanted {
            self.request_keyframe(packet.track, packet.layer, now);
        }
        Ok(())
    }

    fn keyframe_requested(
        &mut self,
        subscriber: ParticipantId,
        track: TrackId,
        now: Instant,
    ) -> Result<(), RoomError> {
        let subscription = self
            .subscriptions
            .get(&(track, subscriber))
            .ok_or(RoomError::UnknownTrack(track))?;
        let layer = subscription
            .downtrack
            .current
            .or(subscription.downtrack.target);
        if let Some(layer) = layer {
            self.request_keyframe(track, layer, now);
        }
        Ok(())
    }

    fn request_keyframe(&mut self, track: TrackId, layer: LayerIndex, now: Instant) {
        if self.keyframes.request(track, layer, now) {
            self.outputs
                .push_back(RoomOutput::RequestKeyframe { track, layer });
        }
    }

    fn timeout(&mut self, now: Instant) {
        for (track, layer) in self.keyframes.due(now) {
            self.outputs
                .push_back(RoomOutput::RequestKeyframe { track, layer });
        }
        let Some(next_analysis) = self.next_analysis else {
            return;
        };
        if now < next_analysis {
            return;
        }
        let window_secs =
            ANALYSIS_INTERVAL.as_secs_f64() + now.duration_since(next_analysis).as_secs_f64();
        for track in self.tracks.values_mut() {
            for (bitrate, bytes) in track
                .bitrate_per_layer
                .iter_mut()
                .zip(track.window_bytes_per_layer.iter_mut())
            {
                *bitrate = (*bytes as f64 * 8.0 / window_secs) as u64;
                *bytes = 0;
            }
        }
        if let Some(active) = self.speakers.end_window() {
            self.dominant_speaker = active.dominant;
            self.outputs.push_back(RoomOutput::ActiveSpeakers(active));
        }
        let subscribers: Vec<ParticipantId> = self.participants.keys().copied().collect();
        for subscriber in subscribers {
            self.allocate(subscriber, now);
        }
        self.next_analysis = Some(now + ANALYSIS_INTERVAL);
    }

    /// Re-chooses the layer of each of the subscriber's video tracks.
    fn allocate(&mut self, subscriber: ParticipantId, now: Instant) {
        let Some(participant) = self.participants.get(&subscriber) else {
            return;
        };
        let budget = participant.bandwidth_bits_per_second;
        let candidates: Vec<Candidate> = self
            .subscriptions
            .iter()
            .filter(|((_, s), _)| *s == subscriber)
            .filter_map(|((track_id, _), subscription)| {
                let track = self.tracks.get(track_id)?;
                (track.info.kind == MediaKind::Video && subscription.ready).then(|| Candidate {
                    track: *track_id,
                    source: track.info.source,
                    from_dominant_speaker: self.dominant_speaker == Some(track.info.publisher),
                    preference: subscription.preference,
                    layer_bitrates: track.bitrate_per_layer.clone(),
                })
            })
            .collect();
        let audio: Vec<TrackId> = self
            .subscriptions
            .iter()
            .filter(|((track_id, s), subscription)| {
                *s == subscriber
                    && subscription.ready
                    && subscription.downtrack.target.is_none()
                    && self
                        .tracks
                        .get(track_id)
                        .is_some_and(|track| track.info.kind == MediaKind::Audio)
            })
            .map(|((track_id, _), _)| *track_id)
            .collect();
        for track in audio {
            if let Some(subscription) = self.subscriptions.get_mut(&(track, subscriber)) {
                subscription.downtrack.set_target(Some(0));
            }
        }
        let layers = choose_layers(budget, &candidates);
        for (candidate, layer) in candidates.iter().zip(layers) {
            let Some(subscription) = self.subscriptions.get_mut(&(candidate.track, subscriber))
            else {
                continue;
            };
            if subscription.downtrack.target == layer {
                continue;
            }
            subscription.downtrack.set_target(layer);
            self.outputs.push_back(RoomOutput::LayerChanged {
                subscriber,
                track: candidate.track,
                layer,
            });
            if let Some(layer) = subscription.downtrack.wants_keyframe() {
                self.request_keyframe(candidate.track, layer, now);
            }
        }
    }
}
