//! Media through a real SFU node: an in-process node on a loopback UDP socket, and headless
//! webrtc-rs participants (`convene_sfu::testing`) that join, publish synthetic VP8 and Opus,
//! answer the node's subscribe offers and log what reaches them.
//!
//! The machine is shared and small, so nothing here asserts on timing: every test waits (with
//! generous timeouts) for the condition it asserts, and asserts on counts.

use std::collections::BTreeSet;
use std::time::Duration;

use anyhow::Context;
use convene_sfu::forwarding::MediaKind;
use convene_sfu::testing::{
    LossPattern, Participant, ParticipantOptions, Toward, UdpRelay, VideoPattern, eventually, sdp,
};
use convene_sfu::{SfuConfig, SfuNode};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Long enough for DTLS and a renegotiation on two busy cores; a healthy run needs ~1 s.
const PATIENCE: Duration = Duration::from_secs(30);

/// About a second of the default camera (30 fps, ~4 packets a frame).
const A_SECOND_OF_VIDEO: usize = 120;

/// An SFU node on an ephemeral loopback port, stopped when dropped.
struct Sfu {
    node: SfuNode,
    shutdown: CancellationToken,
}

impl Sfu {
    async fn start() -> anyhow::Result<Self> {
        let shutdown = CancellationToken::new();
        let node = SfuNode::start(
            SfuConfig {
                udp_bind_addr: "127.0.0.1:0".parse()?,
                advertised_addr: None,
                tcp_bind_addr: None,
                max_rooms: 10,
                max_participants: 50,
            },
            shutdown.clone(),
        )
        .await?;
        Ok(Self { node, shutdown })
    }

    async fn join(&self, options: ParticipantOptions) -> anyhow::Result<Participant> {
        Participant::join(&self.node, "standup", options).await
    }
}

impl Drop for Sfu {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn close_all(participants: Vec<Participant>) {
    for participant in participants {
        participant.close().await;
    }
}

fn others<'a>(
    participants: &'a [Participant],
    me: &'a Participant,
) -> impl Iterator<Item = &'a Participant> {
    participants
        .iter()
        .filter(|p| p.session_id != me.session_id)
}

/// Everyone has received at least `video` video and `audio` audio packets from everyone else.
fn all_receive_all(participants: &[Participant], video: usize, audio: usize) -> bool {
    participants.iter().all(|subscriber| {
        others(participants, subscriber).all(|publisher| {
            subscriber.packets_from(publisher, MediaKind::Video) >= video
                && subscriber.packets_from(publisher, MediaKind::Audio) >= audio
        })
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_receives_every_publisher() -> anyhow::Result<()> {
    let sfu = Sfu::start().await?;
    let mut participants = Vec::new();
    for name in ["ada", "grace", "edsger", "barbara"] {
        participants.push(sfu.join(ParticipantOptions::publishing(name)).await?);
    }

    eventually(
        "everyone receives everyone's audio and video",
        PATIENCE,
        || all_receive_all(&participants, 2 * A_SECOND_OF_VIDEO, 50),
    )
    .await?;

    let everyone: BTreeSet<(Uuid, Vec<String>)> = participants
        .iter()
        .map(|p| (p.session_id, vec![p.stream_id()]))
        .collect();
    for subscriber in &participants {
        let roster = subscriber.signalling().roster;
        let listed: BTreeSet<(Uuid, Vec<String>)> = roster
            .iter()
            .map(|entry| {
                let streams = entry.streams.iter().map(|s| s.stream_id.clone()).collect();
                (entry.session_id, streams)
            })
            .collect();
        assert_eq!(listed, everyone, "{}'s roster", subscriber.display_name);

        // What arrives is the others' streams exactly as the roster names them.
        let others_in_roster: BTreeSet<String> = roster
            .iter()
            .filter(|entry| entry.session_id != subscriber.session_id)
            .flat_map(|entry| entry.streams.iter().map(|s| s.stream_id.clone()))
            .collect();
        subscriber.media(|log| {
            for kind in [MediaKind::Audio, MediaKind::Video] {
                let received: BTreeSet<String> = log
                    .received
                    .keys()
                    .filter(|key| key.kind == kind)
                    .map(|key| key.stream_id.clone())
                    .collect();
                assert_eq!(
                    received, others_in_roster,
                    "the {kind:?} streams {} receives",
                    subscriber.display_name
                );
            }
        });
    }

    // Decodable: each camera reached each subscriber with a keyframe in it.
    eventually(
        "every camera reaches everyone with a keyframe",
        PATIENCE,
        || {
            participants.iter().all(|subscriber| {
                others(&participants, subscriber).all(|publisher| {
                    subscriber.media(|log| {
                        log.received(&publisher.stream_id(), MediaKind::Video)
                            .is_some_and(|video| video.keyframes() > 0)
                    })
                })
            })
        },
    )
    .await?;
    close_all(participants).await;
    Ok(())
}

/// Waits for the relay to lose 40 video packets and for the subscriber to get a second of
/// video past them, then checks that every packet from its first on arrived, the lost ones
/// late: resent after a NACK.
async fn assert_losses_are_recovered(
    relay: &UdpRelay,
    publisher: &Participant,
    subscriber: &Participant,
) -> anyhow::Result<()> {
    eventually("the relay has lost 40 video packets", PATIENCE, || {
        relay.counts().dropped >= 40
    })
    .await?;
    let lost = relay.counts().dropped;
    let newest_when_counted = subscriber.media(|log| {
        log.received(&publisher.stream_id(), MediaKind::Video)
            .and_then(|video| {
                video
                    .arrivals
                    .iter()
                    .filter_map(|a| a.stamp)
                    .map(|s| s.packet_index)
                    .max()
            })
            .unwrap_or(0)
    });
    // Leave time for the last losses to be asked for again and resent.
    eventually(
        "the subscriber is 1 s past the losses counted",
        PATIENCE,
        || {
            subscriber.media(|log| {
                log.received(&publisher.stream_id(), MediaKind::Video)
                    .is_some_and(|video| {
                        video.contains(newest_when_counted + A_SECOND_OF_VIDEO as u32)
                    })
            })
        },
    )
    .await?;

    subscriber.media(|log| {
        let video = log
            .received(&publisher.stream_id(), MediaKind::Video)
            .context("no video from the publisher")?;
        let stamps: Vec<_> = video
            .arrivals
            .iter()
            .filter_map(|arrival| arrival.stamp)
            .collect();
        // From the first packet delivered (a keyframe). The node may also deliver a resent
        // packet from before it (see tests/forwarding_retransmissions.rs); not counted here.
        let first = stamps.first().context("no stamped video")?.packet_index;
        let missing: Vec<u32> = (first..=newest_when_counted)
            .filter(|&index| !video.contains(index))
            .collect();
        // Retransmissions arrive after newer packets did.
        let mut newest = 0;
        let late = stamps
            .iter()
            .filter(|stamp| {
                let late = stamp.packet_index < newest;
                newest = newest.max(stamp.packet_index);
                late
            })
            .count();
        let arrival_order: Vec<u32> = stamps.iter().take(40).map(|s| s.packet_index).collect();
        assert!(
            missing.is_empty(),
            "{} of {} packets never arrived although {lost} were lost and {late} resent: \
             {missing:?}; the first arrivals: {arrival_order:?}",
            missing.len(),
            newest_when_counted - first + 1
        );
        assert!(
            late as u64 >= lost / 2,
            "only {late} packets arrived late for {lost} lost: were they resent?"
        );
        anyhow::Ok(())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_lost_on_the_way_to_a_subscriber_are_recovered_by_nack() -> anyhow::Result<()> {
    let sfu = Sfu::start().await?;
    let shutdown = CancellationToken::new();
    // Every 20th video datagram from the SFU to the subscriber is lost (5 %); its NACK
    // generator asks again, and the SFU's NACK responder resends from its buffer.
    let relay = UdpRelay::start(
        sfu.node.media_addr(),
        LossPattern {
            drop_one_in: 20,
            payload_type: Some(96),
            toward: Toward::Client,
        },
        shutdown.clone(),
    )
    .await?;
    let publisher = sfu.join(ParticipantOptions::publishing("ada")).await?;
    let subscriber = sfu
        .join(ParticipantOptions::new("grace").receiving_via(relay.client_addr()))
        .await?;
    assert_losses_are_recovered(&relay, &publisher, &subscriber).await?;
    shutdown.cancel();
    close_all(vec![publisher, subscriber]).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn packets_lost_on_the_way_from_a_publisher_are_recovered_by_nack() -> anyhow::Result<()> {
    let sfu = Sfu::start().await?;
    let shutdown = CancellationToken::new();
    // Now the publisher's uplink loses 5 %: the SFU's NACK generator asks the publisher, and
    // the resent packets are forwarded late, out of order, with the subscriber's numbering.
    let relay = UdpRelay::start(
        sfu.node.media_addr(),
        LossPattern {
            drop_one_in: 20,
            payload_type: Some(96),
            toward: Toward::Target,
        },
        shutdown.clone(),
    )
    .await?;
    let publisher = sfu
        .join(ParticipantOptions::publishing("ada").publishing_via(relay.client_addr()))
        .await?;
    let subscriber = sfu.join(ParticipantOptions::new("grace")).await?;
    assert_losses_are_recovered(&relay, &publisher, &subscriber).await?;
    // The subscriber saw one gap-free run of sequence numbers, as the publisher numbered them.
    subscriber.media(|log| {
        let video = log
            .received(&publisher.stream_id(), MediaKind::Video)
            .expect("video");
        assert_eq!(video.distinct_sequence_numbers(), video.distinct_packets());
    });
    shutdown.cancel();
    close_all(vec![publisher, subscriber]).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_keyframe_request_from_a_new_subscriber_reaches_the_publisher() -> anyhow::Result<()> {
    let sfu = Sfu::start().await?;
    // Keyframes only when asked, so each one answers a request.
    let publisher = sfu.join(ParticipantOptions::publishing("ada")).await?;
    publisher.wait_publishing(PATIENCE).await?;
    eventually("ada sends video", PATIENCE, || {
        publisher.media(|log| log.sent_video.frames >= 10)
    })
    .await?;
    assert_eq!(
        publisher.keyframe_requests_received(),
        0,
        "nobody watches yet"
    );

    // A later joiner needs a keyframe: the SFU asks on its behalf when it subscribes.
    let late = sfu.join(ParticipantOptions::new("grace")).await?;
    eventually("ada is asked for a keyframe", PATIENCE, || {
        publisher.keyframe_requests_received() > 0
    })
    .await?;
    eventually("grace receives ada's video", PATIENCE, || {
        late.packets_from(&publisher, MediaKind::Video) >= 30
    })
    .await?;

    // The subscriber's own PLI (a browser sends one when it cannot decode) goes through the
    // SFU to the publisher, whose keyframe comes back to the subscriber.
    let requests_before = publisher.keyframe_requests_received();
    late.request_keyframe(&publisher).await?;
    eventually("grace's PLI reaches ada", PATIENCE, || {
        publisher.keyframe_requests_received() > requests_before
    })
    .await?;
    let answered_from_frame =
        publisher.media(|log| log.sent_video.keyframe_requests[requests_before].next_frame);
    eventually("the keyframe answering it reaches grace", PATIENCE, || {
        late.media(|log| {
            log.received(&publisher.stream_id(), MediaKind::Video)
                .is_some_and(|video| {
                    video.arrivals.iter().any(|arrival| {
                        arrival.keyframe_start
                            && arrival
                                .stamp
                                .is_some_and(|s| s.frame >= answered_from_frame)
                    })
                })
        })
    })
    .await?;
    assert!(
        publisher.media(|log| log
            .sent_video
            .keyframes
            .iter()
            .any(|&f| f >= answered_from_frame)),
        "ada sent a keyframe after the request"
    );
    close_all(vec![publisher, late]).await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_participant_leaving_is_removed_from_the_roster_and_the_subscriptions()
-> anyhow::Result<()> {
    let sfu = Sfu::start().await?;
    let mut participants = Vec::new();
    for name in ["ada", "grace", "edsger"] {
        participants.push(sfu.join(ParticipantOptions::publishing(name)).await?);
    }
    eventually("everyone receives everyone", PATIENCE, || {
        all_receive_all(&participants, 30, 10)
    })
    .await?;
    let leaver = participants.remove(1);
    let gone = leaver.session_id;
    let gone_stream = leaver.stream_id();
    for stayer in &participants {
        let offers = stayer.signalling().subscribe_offers;
        assert!(
            offers
                .iter()
                .any(|offer| sdp::sent_stream_ids(offer).contains(&gone_stream)),
            "{} was offered grace's stream",
            stayer.display_name
        );
    }

    leaver.leave().await;

    eventually("the others' rosters drop grace", PATIENCE, || {
        participants.iter().all(|stayer| {
            let roster = stayer.signalling().roster;
            roster.len() == 2 && roster.iter().all(|entry| entry.session_id != gone)
        })
    })
    .await?;
    eventually("a re-offer without grace's tracks", PATIENCE, || {
        participants.iter().all(|stayer| {
            let signalling = stayer.signalling();
            signalling.subscribe_answers_sent == signalling.subscribe_offers.len()
                && signalling
                    .subscribe_offers
                    .last()
                    .is_some_and(|offer| !sdp::sent_stream_ids(offer).contains(&gone_stream))
        })
    })
    .await?;
    for stayer in &participants {
        let offer = stayer
            .signalling()
            .subscribe_offers
            .last()
            .cloned()
            .unwrap_or_default();
        let remaining: BTreeSet<String> = others(&participants, stayer)
            .map(|p| p.stream_id())
            .collect();
        assert_eq!(
            sdp::sent_stream_ids(&offer),
            remaining,
            "{}'s last subscribe offer carries the remaining publisher only",
            stayer.display_name
        );
    }
    let load = sfu.node.load();
    assert_eq!((load.participants, load.tracks), (2, 4));
    close_all(participants).await;
    Ok(())
}

/// Found by these tests: the SFU used to forward to a new subscriber as soon as its answer
/// arrived, before the subscribe connection's DTLS handshake completed, and rtc drops (with
/// `Ok`) what is written before SRTP keys exist, so video started on an undecodable
/// interframe. Now a subscription is "ready" only once the connection is up and the sender
/// negotiated; the keyframe is requested then, and it is the first packet delivered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_subscriber_starts_on_a_keyframe() -> anyhow::Result<()> {
    let sfu = Sfu::start().await?;
    let publisher = sfu
        .join(ParticipantOptions::new("ada").with_video(VideoPattern::default()))
        .await?;
    publisher.wait_publishing(PATIENCE).await?;
    let late = sfu.join(ParticipantOptions::new("grace")).await?;
    eventually("grace receives ada's video", PATIENCE, || {
        late.packets_from(&publisher, MediaKind::Video) >= 30
    })
    .await?;
    let first = late.media(|log| {
        log.received(&publisher.stream_id(), MediaKind::Video)
            .and_then(|video| video.first().copied())
    });
    assert!(
        first.is_some_and(|first| first.keyframe_start),
        "the first video packet grace receives starts a keyframe: {first:?}"
    );
    close_all(vec![publisher, late]).await;
    Ok(())
}
