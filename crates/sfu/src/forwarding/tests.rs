//! The forwarding rules on virtual time: `now` is an argument, so seconds pass instantly.

use std::time::{Duration, Instant};

use super::*;

const ALICE: ParticipantId = ParticipantId(1);
const BOB: ParticipantId = ParticipantId(2);
const CAROL: ParticipantId = ParticipantId(3);

struct Clock(Instant);

impl Clock {
    fn now(&self) -> Instant {
        self.0
    }
    fn advance(&mut self, by: Duration) -> Instant {
        self.0 += by;
        self.0
    }
}

fn camera(id: u64, publisher: ParticipantId, n_layers: u8) -> PublishedTrack {
    PublishedTrack {
        id: TrackId(id),
        publisher,
        kind: MediaKind::Video,
        source: TrackSource::Camera,
        n_layers,
        clock_rate: 90_000,
    }
}

fn microphone(id: u64, publisher: ParticipantId) -> PublishedTrack {
    PublishedTrack {
        id: TrackId(id),
        publisher,
        kind: MediaKind::Audio,
        source: TrackSource::Microphone,
        n_layers: 1,
        clock_rate: 48_000,
    }
}

fn video(track: u64, layer: LayerIndex, sequence_number: u16, keyframe: bool) -> IncomingRtp {
    IncomingRtp {
        track: TrackId(track),
        layer,
        sequence_number,
        timestamp: u32::from(sequence_number) * 3000,
        keyframe,
        audio_level: None,
        size: 1000,
    }
}

fn audio(track: u64, sequence_number: u16, level: u8) -> IncomingRtp {
    IncomingRtp {
        track: TrackId(track),
        layer: 0,
        sequence_number,
        timestamp: u32::from(sequence_number) * 960,
        keyframe: false,
        audio_level: Some(level),
        size: 100,
    }
}

/// Every output so far. Like the driver once a subscriber's connection is up, it reports
/// each new subscription ready (and includes what that causes).
fn drain(room: &mut Room) -> Vec<RoomOutput> {
    let mut outputs = Vec::new();
    while let Some(output) = room.poll_output() {
        if let RoomOutput::Subscribed { subscriber, track } = output {
            room.handle_input(
                RoomInput::SubscriptionReady { subscriber, track },
                Instant::now(),
            )
            .unwrap();
        }
        outputs.push(output);
    }
    outputs
}

fn forwarded_to(outputs: &[RoomOutput]) -> Vec<(ParticipantId, TrackId, u16)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            RoomOutput::Forward {
                subscriber,
                track,
                header,
            } => Some((*subscriber, *track, header.sequence_number)),
            _ => None,
        })
        .collect()
}

fn keyframe_requests(outputs: &[RoomOutput]) -> Vec<(TrackId, LayerIndex)> {
    outputs
        .iter()
        .filter_map(|output| match output {
            RoomOutput::RequestKeyframe { track, layer } => Some((*track, *layer)),
            _ => None,
        })
        .collect()
}

/// A room with the given participants joined and drained.
fn room_with(participants: &[ParticipantId], clock: &Clock) -> Room {
    let mut room = Room::new();
    for participant in participants {
        room.handle_input(RoomInput::Join(*participant), clock.now())
            .unwrap();
    }
    drain(&mut room);
    room
}

#[test]
fn every_participant_subscribes_to_every_other_participants_tracks() {
    let clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB], &clock);
    room.handle_input(RoomInput::Publish(camera(10, ALICE, 1)), clock.now())
        .unwrap();
    let outputs = drain(&mut room);
    assert!(outputs.contains(&RoomOutput::Subscribed {
        subscriber: BOB,
        track: TrackId(10)
    }));
    assert!(
        !outputs.iter().any(|output| matches!(output, RoomOutput::Subscribed { subscriber, .. } if *subscriber == ALICE)),
        "a publisher never receives its own track"
    );

    // Someone joining later gets the tracks already published.
    room.handle_input(RoomInput::Join(CAROL), clock.now())
        .unwrap();
    assert!(drain(&mut room).contains(&RoomOutput::Subscribed {
        subscriber: CAROL,
        track: TrackId(10)
    }));
}

#[test]
fn video_starts_on_a_keyframe_and_audio_on_any_packet() {
    let clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB], &clock);
    room.handle_input(RoomInput::Publish(camera(10, ALICE, 1)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Publish(microphone(11, ALICE)), clock.now())
        .unwrap();
    let outputs = drain(&mut room);
    assert_eq!(
        keyframe_requests(&outputs),
        vec![(TrackId(10), 0)],
        "a new subscriber asks for a keyframe"
    );

    room.handle_input(RoomInput::Rtp(video(10, 0, 100, false)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(audio(11, 7, 30)), clock.now())
        .unwrap();
    assert_eq!(forwarded_to(&drain(&mut room)), vec![(BOB, TrackId(11), 7)]);

    room.handle_input(RoomInput::Rtp(video(10, 0, 101, true)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(video(10, 0, 102, false)), clock.now())
        .unwrap();
    assert_eq!(
        forwarded_to(&drain(&mut room)),
        vec![(BOB, TrackId(10), 101), (BOB, TrackId(10), 102)]
    );
}

#[test]
fn unsubscribing_stops_forwarding_and_tells_the_subscriber() {
    let clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB, CAROL], &clock);
    room.handle_input(RoomInput::Publish(microphone(11, ALICE)), clock.now())
        .unwrap();
    drain(&mut room);
    room.handle_input(RoomInput::Unpublish(TrackId(11)), clock.now())
        .unwrap();
    let outputs = drain(&mut room);
    assert!(outputs.contains(&RoomOutput::Unsubscribed {
        subscriber: BOB,
        track: TrackId(11)
    }));
    assert!(outputs.contains(&RoomOutput::Unsubscribed {
        subscriber: CAROL,
        track: TrackId(11)
    }));
    assert_eq!(
        room.handle_input(RoomInput::Rtp(audio(11, 8, 30)), clock.now()),
        Err(RoomError::UnknownTrack(TrackId(11)))
    );

    // Leaving unpublishes the leaver's tracks for everyone else.
    room.handle_input(RoomInput::Publish(microphone(12, BOB)), clock.now())
        .unwrap();
    drain(&mut room);
    room.handle_input(RoomInput::Leave(BOB), clock.now())
        .unwrap();
    let outputs = drain(&mut room);
    assert_eq!(
        outputs,
        vec![
            RoomOutput::Unsubscribed {
                subscriber: ALICE,
                track: TrackId(12)
            },
            RoomOutput::Unsubscribed {
                subscriber: CAROL,
                track: TrackId(12)
            },
        ]
    );
}

#[test]
fn the_room_closes_when_the_last_participant_leaves() {
    let clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB], &clock);
    room.handle_input(RoomInput::Leave(ALICE), clock.now())
        .unwrap();
    assert!(!drain(&mut room).contains(&RoomOutput::Closed));
    assert!(room.poll_timeout().is_some());
    room.handle_input(RoomInput::Leave(BOB), clock.now())
        .unwrap();
    assert_eq!(drain(&mut room), vec![RoomOutput::Closed]);
    assert!(room.is_closed());
    assert_eq!(room.poll_timeout(), None);
    assert_eq!(
        room.handle_input(RoomInput::Join(CAROL), clock.now()),
        Err(RoomError::Closed)
    );
}

/// Publishes a three-layer camera for ALICE, makes every layer carry `bitrates` bits/s
/// for one analysis window, and starts BOB on the layer allocation then chose.
fn simulcast_room(clock: &mut Clock, bitrates: [u64; 3]) -> Room {
    let mut room = room_with(&[ALICE, BOB], clock);
    room.handle_input(RoomInput::Publish(camera(10, ALICE, 3)), clock.now())
        .unwrap();
    let window_bytes = bitrates.map(|bits| bits / 8 / 4); // a 250 ms window
    for (layer, bytes) in window_bytes.iter().enumerate() {
        let mut packet = video(10, layer as u8, 1, false);
        packet.size = *bytes as usize;
        room.handle_input(RoomInput::Rtp(packet), clock.now())
            .unwrap();
    }
    clock.advance(room::ANALYSIS_INTERVAL);
    room.handle_input(RoomInput::Timeout, clock.now()).unwrap();
    drain(&mut room);
    room
}

fn layer_changes(outputs: &[RoomOutput]) -> Vec<Option<LayerIndex>> {
    outputs
        .iter()
        .filter_map(|output| match output {
            RoomOutput::LayerChanged { layer, .. } => Some(*layer),
            _ => None,
        })
        .collect()
}

#[test]
fn the_layer_follows_the_subscribers_bandwidth() {
    let mut clock = Clock(Instant::now());
    let mut room = simulcast_room(&mut clock, [150_000, 500_000, 1_500_000]);

    // Plenty of bandwidth: the top layer, switched to on its keyframe.
    room.handle_input(
        RoomInput::Bandwidth {
            subscriber: BOB,
            bits_per_second: 3_000_000,
        },
        clock.now(),
    )
    .unwrap();
    let outputs = drain(&mut room);
    assert!(
        layer_changes(&outputs).is_empty(),
        "already on the top layer: {outputs:?}"
    );
    room.handle_input(RoomInput::Rtp(video(10, 2, 50, true)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(video(10, 1, 900, true)), clock.now())
        .unwrap();
    assert_eq!(
        forwarded_to(&drain(&mut room)),
        vec![(BOB, TrackId(10), 50)]
    );

    // The downlink shrinks: the middle layer is chosen and requested...
    clock.advance(Duration::from_millis(40));
    room.handle_input(
        RoomInput::Bandwidth {
            subscriber: BOB,
            bits_per_second: 800_000,
        },
        clock.now(),
    )
    .unwrap();
    let outputs = drain(&mut room);
    assert_eq!(layer_changes(&outputs), vec![Some(1)]);
    assert_eq!(keyframe_requests(&outputs), vec![(TrackId(10), 1)]);
    // ...the top layer keeps flowing until the middle layer's keyframe arrives...
    room.handle_input(RoomInput::Rtp(video(10, 2, 51, false)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(video(10, 1, 901, false)), clock.now())
        .unwrap();
    assert_eq!(
        forwarded_to(&drain(&mut room)),
        vec![(BOB, TrackId(10), 51)]
    );
    // ...and then the stream continues gap-free in sequence and forward in time.
    room.handle_input(RoomInput::Rtp(video(10, 1, 902, true)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(video(10, 2, 52, false)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(video(10, 1, 903, false)), clock.now())
        .unwrap();
    assert_eq!(
        forwarded_to(&drain(&mut room)),
        vec![(BOB, TrackId(10), 52), (BOB, TrackId(10), 53)]
    );

    // Too little for even the lowest layer: still the lowest layer, never paused (the
    // browser's estimate grows only from what it receives).
    room.handle_input(
        RoomInput::Bandwidth {
            subscriber: BOB,
            bits_per_second: 100_000,
        },
        clock.now(),
    )
    .unwrap();
    assert_eq!(layer_changes(&drain(&mut room)), vec![Some(0)]);
    room.handle_input(RoomInput::Rtp(video(10, 0, 5, true)), clock.now())
        .unwrap();
    assert_eq!(forwarded_to(&drain(&mut room)).len(), 1);
}

#[test]
fn a_layer_switch_keeps_timestamps_increasing() {
    let mut clock = Clock(Instant::now());
    let mut room = simulcast_room(&mut clock, [150_000, 500_000, 1_500_000]);
    let mut high = video(10, 2, 50, true);
    high.timestamp = 4_000_000_000;
    room.handle_input(RoomInput::Rtp(high), clock.now())
        .unwrap();
    drain(&mut room);
    clock.advance(Duration::from_millis(100));
    room.handle_input(
        RoomInput::Bandwidth {
            subscriber: BOB,
            bits_per_second: 200_000,
        },
        clock.now(),
    )
    .unwrap();
    drain(&mut room);
    let mut low = video(10, 0, 7, true);
    low.timestamp = 12;
    room.handle_input(RoomInput::Rtp(low), clock.now()).unwrap();
    let outputs = drain(&mut room);
    let RoomOutput::Forward { header, .. } = outputs[0] else {
        panic!("expected a forward, got {outputs:?}");
    };
    assert_eq!(header.sequence_number, 51);
    // 100 ms at 90 kHz after the last timestamp sent, not the new layer's own origin.
    assert_eq!(header.timestamp, 4_000_000_000 + 9_000);
}

#[test]
fn off_screen_tiles_are_paused_and_resume_on_a_keyframe() {
    let mut clock = Clock(Instant::now());
    let mut room = simulcast_room(&mut clock, [150_000, 500_000, 1_500_000]);
    room.handle_input(RoomInput::Rtp(video(10, 2, 50, true)), clock.now())
        .unwrap();
    drain(&mut room);

    let hidden = ViewPreference {
        visible: false,
        max_layer: 2,
    };
    room.handle_input(
        RoomInput::Preference {
            subscriber: BOB,
            track: TrackId(10),
            preference: hidden,
        },
        clock.now(),
    )
    .unwrap();
    assert_eq!(layer_changes(&drain(&mut room)), vec![None]);
    room.handle_input(RoomInput::Rtp(video(10, 2, 51, false)), clock.now())
        .unwrap();
    assert!(forwarded_to(&drain(&mut room)).is_empty());

    // Back on screen as a small tile: the lowest layer, from its next keyframe.
    clock.advance(Duration::from_secs(2));
    let small = ViewPreference {
        visible: true,
        max_layer: 0,
    };
    room.handle_input(
        RoomInput::Preference {
            subscriber: BOB,
            track: TrackId(10),
            preference: small,
        },
        clock.now(),
    )
    .unwrap();
    let outputs = drain(&mut room);
    assert_eq!(layer_changes(&outputs), vec![Some(0)]);
    assert_eq!(keyframe_requests(&outputs), vec![(TrackId(10), 0)]);
    room.handle_input(RoomInput::Rtp(video(10, 0, 300, true)), clock.now())
        .unwrap();
    // Gap-free: 51 was never sent while paused.
    assert_eq!(
        forwarded_to(&drain(&mut room)),
        vec![(BOB, TrackId(10), 51)]
    );
}

#[test]
fn screen_share_gets_the_bandwidth_before_cameras() {
    let mut clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB, CAROL], &clock);
    room.handle_input(RoomInput::Publish(camera(10, ALICE, 3)), clock.now())
        .unwrap();
    let mut screen = camera(20, CAROL, 1);
    screen.source = TrackSource::ScreenShare;
    room.handle_input(RoomInput::Publish(screen), clock.now())
        .unwrap();
    for (track, layer, bytes) in [
        (10, 0, 5_000),
        (10, 1, 15_000),
        (10, 2, 50_000),
        (20, 0, 40_000),
    ] {
        let mut packet = video(track, layer, 1, false);
        packet.size = bytes;
        room.handle_input(RoomInput::Rtp(packet), clock.now())
            .unwrap();
    }
    clock.advance(room::ANALYSIS_INTERVAL);
    room.handle_input(RoomInput::Timeout, clock.now()).unwrap();
    drain(&mut room);
    // 1.28 Mb/s screen share; 1.5 Mb/s leaves the camera 220 kb/s: only its lowest layer.
    room.handle_input(
        RoomInput::Bandwidth {
            subscriber: BOB,
            bits_per_second: 1_500_000,
        },
        clock.now(),
    )
    .unwrap();
    let outputs = drain(&mut room);
    assert!(
        outputs.contains(&RoomOutput::LayerChanged {
            subscriber: BOB,
            track: TrackId(10),
            layer: Some(0)
        }),
        "{outputs:?}"
    );
    assert!(!outputs.iter().any(|output| matches!(
        output,
        RoomOutput::LayerChanged {
            track: TrackId(20),
            ..
        }
    )));
}

#[test]
fn keyframe_requests_are_throttled_to_one_per_second_per_stream() {
    let mut clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB, CAROL], &clock);
    room.handle_input(RoomInput::Publish(camera(10, ALICE, 1)), clock.now())
        .unwrap();
    assert_eq!(keyframe_requests(&drain(&mut room)), vec![(TrackId(10), 0)]);
    room.handle_input(RoomInput::Rtp(video(10, 0, 1, true)), clock.now())
        .unwrap();
    drain(&mut room);

    // Ten PLIs from two subscribers within 900 ms: none goes out immediately...
    for _ in 0..5 {
        clock.advance(Duration::from_millis(90));
        for subscriber in [BOB, CAROL] {
            room.handle_input(
                RoomInput::KeyframeRequest {
                    subscriber,
                    track: TrackId(10),
                },
                clock.now(),
            )
            .unwrap();
        }
    }
    assert!(keyframe_requests(&drain(&mut room)).is_empty());
    // ...one goes out when the second is up...
    let due = room.poll_timeout().unwrap();
    assert!(due <= clock.now() + Duration::from_millis(550));
    let mut sent = Vec::new();
    while clock.now() < due + Duration::from_millis(900) {
        let next = room.poll_timeout().unwrap();
        clock.0 = next;
        room.handle_input(RoomInput::Timeout, clock.now()).unwrap();
        sent.extend(keyframe_requests(&drain(&mut room)));
    }
    assert_eq!(sent, vec![(TrackId(10), 0)]);

    // ...and after a quiet second a request goes out at once.
    clock.advance(Duration::from_secs(1));
    room.handle_input(
        RoomInput::KeyframeRequest {
            subscriber: BOB,
            track: TrackId(10),
        },
        clock.now(),
    )
    .unwrap();
    assert_eq!(keyframe_requests(&drain(&mut room)), vec![(TrackId(10), 0)]);
}

fn speakers(outputs: &[RoomOutput]) -> Vec<ActiveSpeakers> {
    outputs
        .iter()
        .filter_map(|output| match output {
            RoomOutput::ActiveSpeakers(active) => Some(active.clone()),
            _ => None,
        })
        .collect()
}

/// Feeds about one analysis window of 20 ms audio packets at the given levels, then a timeout.
fn speak(
    room: &mut Room,
    clock: &mut Clock,
    levels: &[(u64, u8)],
    sequence_number: &mut u16,
) -> Vec<ActiveSpeakers> {
    for _ in 0..12 {
        for (track, level) in levels {
            room.handle_input(
                RoomInput::Rtp(audio(*track, *sequence_number, *level)),
                clock.now(),
            )
            .unwrap();
        }
        *sequence_number += 1;
        clock.advance(Duration::from_millis(20));
    }
    clock.0 = clock.0.max(room.poll_timeout().unwrap());
    room.handle_input(RoomInput::Timeout, clock.now()).unwrap();
    speakers(&drain(room))
}

#[test]
fn the_loudest_speaker_becomes_dominant_without_flickering() {
    let mut clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB, CAROL], &clock);
    room.handle_input(RoomInput::Publish(microphone(11, ALICE)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Publish(microphone(12, BOB)), clock.now())
        .unwrap();
    drain(&mut room);
    let mut sequence_number = 0;
    const SILENCE: u8 = 127;

    // Alice talks (-20 dBov), Bob is silent.
    let mut changes = Vec::new();
    for _ in 0..3 {
        changes.extend(speak(
            &mut room,
            &mut clock,
            &[(11, 20), (12, SILENCE)],
            &mut sequence_number,
        ));
    }
    assert_eq!(
        changes.last().unwrap(),
        &ActiveSpeakers {
            dominant: Some(ALICE),
            speaking: vec![ALICE]
        }
    );

    // Bob starts talking slightly louder: both speak, Alice stays dominant (within the margin).
    let mut changes = Vec::new();
    for _ in 0..4 {
        changes.extend(speak(
            &mut room,
            &mut clock,
            &[(11, 20), (12, 18)],
            &mut sequence_number,
        ));
    }
    let last = changes.last().unwrap();
    assert_eq!(last.dominant, Some(ALICE));
    let mut speaking = last.speaking.clone();
    speaking.sort();
    assert_eq!(speaking, vec![ALICE, BOB]);

    // Alice stops: Bob takes over, and the change is reported once.
    let mut changes = Vec::new();
    for _ in 0..6 {
        changes.extend(speak(
            &mut room,
            &mut clock,
            &[(11, SILENCE), (12, 18)],
            &mut sequence_number,
        ));
    }
    assert_eq!(
        changes.last().unwrap(),
        &ActiveSpeakers {
            dominant: Some(BOB),
            speaking: vec![BOB]
        }
    );
    let mut dominant_sequence: Vec<_> = changes.iter().map(|change| change.dominant).collect();
    dominant_sequence.dedup();
    assert!(
        dominant_sequence == vec![Some(BOB)] || dominant_sequence == vec![Some(ALICE), Some(BOB)],
        "the dominant speaker moved to Bob once, never back: {dominant_sequence:?}"
    );
}

#[test]
fn the_dominant_speaker_gets_bandwidth_before_other_cameras() {
    let mut clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB, CAROL], &clock);
    room.handle_input(RoomInput::Publish(camera(10, ALICE, 2)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Publish(camera(20, BOB, 2)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Publish(microphone(21, BOB)), clock.now())
        .unwrap();
    drain(&mut room);
    // Both cameras: 200 kb/s low, 1 Mb/s high; Carol has 1.3 Mb/s.
    let mut sequence_number = 0;
    for _ in 0..4 {
        for (track, layer, bytes) in [
            (10, 0, 6_250),
            (10, 1, 31_250),
            (20, 0, 6_250),
            (20, 1, 31_250),
        ] {
            let mut packet = video(track, layer, 1, false);
            packet.size = bytes;
            room.handle_input(RoomInput::Rtp(packet), clock.now())
                .unwrap();
        }
        speak(&mut room, &mut clock, &[(21, 10)], &mut sequence_number);
    }
    room.handle_input(
        RoomInput::Bandwidth {
            subscriber: CAROL,
            bits_per_second: 1_300_000,
        },
        clock.now(),
    )
    .unwrap();
    let outputs = drain(&mut room);
    // Bob (speaking) keeps his top layer, 1 Mb/s; Alice's camera gets what is left.
    assert!(
        !outputs.iter().any(|output| matches!(
            output,
            RoomOutput::LayerChanged {
                subscriber: CAROL,
                track: TrackId(20),
                ..
            }
        )),
        "{outputs:?}"
    );
    assert!(
        outputs.contains(&RoomOutput::LayerChanged {
            subscriber: CAROL,
            track: TrackId(10),
            layer: Some(0)
        }),
        "{outputs:?}"
    );
}

#[test]
fn a_layer_the_publisher_does_not_send_is_never_chosen() {
    // A 640×360 camera: Chromium sends only the quarter and half layers.
    let mut clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB], &clock);
    room.handle_input(RoomInput::Publish(camera(10, ALICE, 3)), clock.now())
        .unwrap();
    let outputs = drain(&mut room);
    assert_eq!(
        layer_changes(&outputs),
        vec![Some(0)],
        "unmeasured: start on the lowest layer"
    );
    for (layer, bytes) in [(0, 4_000), (1, 15_000)] {
        let mut packet = video(10, layer, 1, false);
        packet.size = bytes;
        room.handle_input(RoomInput::Rtp(packet), clock.now())
            .unwrap();
    }
    clock.advance(room::ANALYSIS_INTERVAL);
    room.handle_input(RoomInput::Timeout, clock.now()).unwrap();
    assert_eq!(layer_changes(&drain(&mut room)), vec![Some(1)]);
}

#[test]
fn nothing_is_forwarded_until_the_subscription_is_ready_and_video_then_starts_on_a_keyframe() {
    let clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB], &clock);
    room.handle_input(RoomInput::Publish(camera(10, ALICE, 1)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Publish(microphone(11, ALICE)), clock.now())
        .unwrap();
    // Not drained through `drain`: the subscriber's connection is not up yet.
    let outputs: Vec<RoomOutput> = std::iter::from_fn(|| room.poll_output()).collect();
    assert!(
        keyframe_requests(&outputs).is_empty(),
        "no keyframe before anyone can receive it"
    );
    room.handle_input(RoomInput::Rtp(video(10, 0, 1, true)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(audio(11, 1, 30)), clock.now())
        .unwrap();
    let outputs: Vec<RoomOutput> = std::iter::from_fn(|| room.poll_output()).collect();
    assert!(forwarded_to(&outputs).is_empty(), "{outputs:?}");

    for track in [TrackId(10), TrackId(11)] {
        room.handle_input(
            RoomInput::SubscriptionReady {
                subscriber: BOB,
                track,
            },
            clock.now(),
        )
        .unwrap();
    }
    assert_eq!(keyframe_requests(&drain(&mut room)), vec![(TrackId(10), 0)]);
    room.handle_input(RoomInput::Rtp(video(10, 0, 2, false)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(audio(11, 2, 30)), clock.now())
        .unwrap();
    room.handle_input(RoomInput::Rtp(video(10, 0, 3, true)), clock.now())
        .unwrap();
    assert_eq!(
        forwarded_to(&drain(&mut room)),
        vec![(BOB, TrackId(11), 2), (BOB, TrackId(10), 3)],
        "audio at once, video from the keyframe"
    );
}

#[test]
fn bursty_speech_with_silence_between_syllables_counts_as_speaking() {
    // Levels as Chromium's fake microphone sends them: about a third silence, the rest
    // between -10 and -80 dBov. The mean level is near -60 dBov; speech all the same.
    let mut clock = Clock(Instant::now());
    let mut room = room_with(&[ALICE, BOB], &clock);
    room.handle_input(RoomInput::Publish(microphone(11, ALICE)), clock.now())
        .unwrap();
    drain(&mut room);
    let pattern = [127, 10, 33, 127, 40, 50, 127, 25, 62, 78, 9, 127];
    let mut sequence_number = 0u16;
    let mut changes = Vec::new();
    for _ in 0..4 {
        for level in pattern {
            room.handle_input(
                RoomInput::Rtp(audio(11, sequence_number, level)),
                clock.now(),
            )
            .unwrap();
            sequence_number += 1;
            clock.advance(Duration::from_millis(20));
        }
        clock.0 = clock.0.max(room.poll_timeout().unwrap());
        room.handle_input(RoomInput::Timeout, clock.now()).unwrap();
        changes.extend(speakers(&drain(&mut room)));
    }
    assert_eq!(
        changes.last(),
        Some(&ActiveSpeakers {
            dominant: Some(ALICE),
            speaking: vec![ALICE]
        })
    );
}
