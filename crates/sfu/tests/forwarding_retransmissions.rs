//! Resent packets through the forwarding core, on virtual time (sans-IO, public API only).
//!
//! Browsers negotiate no RTX with the node, so a packet the node NACKs comes back on the
//! publisher's own SSRC with its old sequence number, after newer ones. Found with the
//! media tests (`packets_lost_on_the_way_from_a_publisher_are_recovered_by_nack`): such a
//! packet from before the point a subscriber's layer started was forwarded (onto numbers
//! already delivered); now it is dropped.

use std::time::Instant;

use convene_sfu::forwarding::{
    ANALYSIS_INTERVAL, IncomingRtp, MediaKind, ParticipantId, PublishedTrack, Room, RoomInput,
    RoomOutput, TrackId, TrackSource,
};

const ALICE: ParticipantId = ParticipantId(1);
const BOB: ParticipantId = ParticipantId(2);
const CAMERA: TrackId = TrackId(10);
/// Not forwarded.
const NOTHING: Vec<u16> = Vec::new();

fn video(layer: u8, sequence_number: u16, keyframe: bool) -> IncomingRtp {
    IncomingRtp {
        track: CAMERA,
        layer,
        sequence_number,
        timestamp: u32::from(sequence_number) * 3000,
        keyframe,
        audio_level: None,
        size: 1000,
    }
}

/// Everything the room says, reporting each subscription ready as the driver does once the
/// subscriber's connection is up.
fn drain(room: &mut Room, now: Instant) -> anyhow::Result<Vec<RoomOutput>> {
    let mut outputs = Vec::new();
    while let Some(output) = room.poll_output() {
        if let RoomOutput::Subscribed { subscriber, track } = output {
            room.handle_input(RoomInput::SubscriptionReady { subscriber, track }, now)?;
        }
        outputs.push(output);
    }
    Ok(outputs)
}

/// The subscriber-side sequence numbers of what `packet` is forwarded as.
fn forward(room: &mut Room, packet: IncomingRtp, now: Instant) -> anyhow::Result<Vec<u16>> {
    room.handle_input(RoomInput::Rtp(packet), now)?;
    Ok(drain(room, now)?
        .into_iter()
        .filter_map(|output| match output {
            RoomOutput::Forward { header, .. } => Some(header.sequence_number),
            _ => None,
        })
        .collect())
}

/// Alice publishes a camera with `n_layers`, Bob receives it.
fn room(n_layers: u8, now: Instant) -> anyhow::Result<Room> {
    let mut room = Room::new();
    for participant in [ALICE, BOB] {
        room.handle_input(RoomInput::Join(participant), now)?;
    }
    room.handle_input(
        RoomInput::Publish(PublishedTrack {
            id: CAMERA,
            publisher: ALICE,
            kind: MediaKind::Video,
            source: TrackSource::Camera,
            n_layers,
            clock_rate: 90_000,
        }),
        now,
    )?;
    drain(&mut room, now)?;
    Ok(room)
}

#[test]
fn a_packet_resent_from_before_a_layer_switch_is_not_forwarded() -> anyhow::Result<()> {
    let mut now = Instant::now();
    let mut room = room(2, now)?;
    // Bob starts on the low layer, from its keyframe.
    let mut delivered = forward(&mut room, video(0, 1000, true), now)?;
    for sequence_number in 1001..=1010 {
        delivered.extend(forward(&mut room, video(0, sequence_number, false), now)?);
    }
    assert_eq!(delivered, (1000..=1010).collect::<Vec<u16>>());
    // The high layer is measured too (its packets are not for Bob yet), so the next
    // allocation moves him up; the switch waits for a high-layer keyframe.
    for sequence_number in 5000..=5004 {
        assert_eq!(
            forward(&mut room, video(1, sequence_number, false), now)?,
            NOTHING
        );
    }
    now += ANALYSIS_INTERVAL;
    room.handle_input(RoomInput::Timeout, now)?;
    drain(&mut room, now)?;
    assert_eq!(forward(&mut room, video(1, 5010, true), now)?, vec![1011]);
    assert_eq!(forward(&mut room, video(1, 5011, false), now)?, vec![1012]);

    // 5003 was lost on Alice's uplink before the switch, and is resent now. Bob never
    // needed it (his high layer starts at 5010); forwarded, it would become 5003 - 5010 +
    // 1011 = 1004, a number Bob already received for a low-layer packet.
    let resent = forward(&mut room, video(1, 5003, false), now)?;
    assert!(
        resent.iter().all(|&sequence_number| sequence_number > 1012),
        "the resent packet was forwarded as {resent:?}, reusing a delivered sequence number"
    );
    Ok(())
}

#[test]
fn a_packet_resent_from_before_the_first_keyframe_is_not_forwarded() -> anyhow::Result<()> {
    let now = Instant::now();
    let mut room = room(1, now)?;
    // Bob's first packet is the keyframe at 44; 38 was lost on the uplink and comes back
    // after it, as in the media test.
    for sequence_number in 39..=43 {
        assert_eq!(
            forward(&mut room, video(0, sequence_number, false), now)?,
            NOTHING
        );
    }
    assert_eq!(forward(&mut room, video(0, 44, true), now)?, vec![44]);
    assert_eq!(forward(&mut room, video(0, 45, false), now)?, vec![45]);
    assert_eq!(
        forward(&mut room, video(0, 38, false), now)?,
        NOTHING,
        "a packet older than Bob's first is of no use to his decoder"
    );
    Ok(())
}

#[test]
fn a_packet_resent_after_the_keyframe_is_forwarded_in_place() -> anyhow::Result<()> {
    let now = Instant::now();
    let mut room = room(1, now)?;
    assert_eq!(forward(&mut room, video(0, 100, true), now)?, vec![100]);
    assert_eq!(forward(&mut room, video(0, 102, false), now)?, vec![102]);
    // 101 was lost and is resent: it fills its own gap.
    assert_eq!(forward(&mut room, video(0, 101, false), now)?, vec![101]);
    Ok(())
}
