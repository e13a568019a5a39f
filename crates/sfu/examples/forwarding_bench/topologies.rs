//! The two ways the same synthetic cameras reach the same subscribers: through one SFU node,
//! and (the baseline) over direct peer connections, one per publisher-subscriber pair, each
//! through a plain user-space UDP relay.

use std::time::{Duration, Instant};

use anyhow::Context;
use convene_sfu::forwarding::MediaKind;
use convene_sfu::testing::{
    LossPattern, Participant, ParticipantOptions, Peer, SharedMediaLog, Tasks, UdpRelay,
    VideoPattern, eventually, local_track, sdp, spawn_video_source,
};
use convene_sfu::{SfuConfig, SfuNode};
use rtc::peer_connection::sdp::RTCSessionDescription;
use rtc::rtp_transceiver::rtp_sender::RtpCodecKind;
use rtc::rtp_transceiver::{RTCRtpTransceiverDirection, RTCRtpTransceiverInit};
use tokio_util::sync::CancellationToken;

use crate::measure::{Flow, RunReport, Window, WindowCounts};
use crate::procfs::{
    DedicatedRuntime, process_cpu_time, udp_receive_buffer_errors, udp_socket_drops,
};

/// Every subscriber has this much of every camera before the window opens.
const WARM_UP_PACKETS: usize = 30;
const WARM_UP_TIMEOUT: Duration = Duration::from_secs(120);
/// After the window, for packets in flight and their retransmissions.
const GRACE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub n_publishers: usize,
    pub n_subscribers: usize,
    pub window: Duration,
    pub pattern: VideoPattern,
}

/// Reads the counters before and after the window: packets forwarded (`forwarded`), the
/// forwarder's and the process's CPU time, and datagrams dropped for a full receive buffer,
/// at the forwarder's socket (`forwarder_drops`, when it has one) and anywhere.
async fn measure_window(
    forwarder: &DedicatedRuntime,
    window: Duration,
    forwarded: impl Fn() -> u64,
    forwarder_drops: impl Fn() -> Option<u64>,
) -> anyhow::Result<WindowCounts> {
    let read = || -> anyhow::Result<_> {
        Ok((
            forwarded(),
            forwarder.cpu_time()?,
            process_cpu_time()?,
            forwarder_drops(),
            udp_receive_buffer_errors()?,
        ))
    };
    let before = read()?;
    let start = Instant::now();
    tokio::time::sleep(window).await;
    let end = Instant::now();
    let after = read()?;
    Ok(WindowCounts {
        window: Window { start, end },
        forwarded: after.0 - before.0,
        forwarder_cpu: after.1 - before.1,
        process_cpu: after.2 - before.2,
        forwarder_socket_drops: after.3.zip(before.3).map(|(after, before)| after - before),
        receive_buffer_drops: after.4 - before.4,
    })
}

fn packets_received(flow: &Flow) -> usize {
    flow.received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .received(&flow.stream_id, MediaKind::Video)
        .map_or(0, |stream| stream.packets())
}

/// Waits until every flow has delivered [`WARM_UP_PACKETS`]; the error says how far it got
/// and, through `describe`, what the flows that did not are stuck at.
async fn warm_up(
    topology: &str,
    flows: &[Flow],
    describe: impl Fn(&Flow) -> String,
) -> anyhow::Result<()> {
    let warmed_up = || {
        flows
            .iter()
            .filter(|flow| packets_received(flow) >= WARM_UP_PACKETS)
            .count()
    };
    eventually(
        "every subscriber receives every camera",
        WARM_UP_TIMEOUT,
        || warmed_up() == flows.len(),
    )
    .await
    .with_context(|| {
        let stuck: Vec<String> = flows
            .iter()
            .filter(|flow| packets_received(flow) < WARM_UP_PACKETS)
            .take(5)
            .map(|flow| {
                format!(
                    "subscriber-{} from {}: {} packets, {}",
                    flow.subscriber_idx,
                    flow.stream_id,
                    packets_received(flow),
                    describe(flow)
                )
            })
            .collect();
        format!(
            "{topology}: {} of {} flows warmed up; stuck: {stuck:#?}",
            warmed_up(),
            flows.len()
        )
    })
}

/// N publishers and M subscribers in one room on one node. Publishers mark each other's
/// cameras off-screen, so they do not also subscribe; the node runs alone on its thread.
pub async fn through_the_sfu(shape: Shape) -> anyhow::Result<RunReport> {
    let sfu_runtime = DedicatedRuntime::start("sfu")?;
    let shutdown = CancellationToken::new();
    let node_shutdown = shutdown.clone();
    let node = sfu_runtime
        .handle
        .spawn(async move {
            SfuNode::start(
                SfuConfig {
                    udp_bind_addr: "127.0.0.1:0".parse().context("address")?,
                    advertised_addr: None,
                    tcp_bind_addr: None,
                    max_rooms: 1,
                    max_participants: shape.n_publishers + shape.n_subscribers,
                },
                node_shutdown,
            )
            .await
            .context("starting the node")
        })
        .await??;

    let mut publishers = Vec::new();
    for publisher_idx in 0..shape.n_publishers {
        let options = ParticipantOptions::new(&format!("publisher-{publisher_idx}"))
            .with_video(shape.pattern)
            .without_watching_video();
        publishers.push(Participant::join(&node, "bench", options).await?);
    }
    let mut subscribers = Vec::new();
    for subscriber_idx in 0..shape.n_subscribers {
        let options = ParticipantOptions::new(&format!("subscriber-{subscriber_idx}"));
        subscribers.push(Participant::join(&node, "bench", options).await?);
    }
    let flows: Vec<Flow> = subscribers
        .iter()
        .enumerate()
        .flat_map(|(subscriber_idx, subscriber)| {
            publishers.iter().map(move |publisher| Flow {
                subscriber_idx,
                sent: publisher.media_log(),
                received: subscriber.media_log(),
                stream_id: publisher.stream_id(),
            })
        })
        .collect();
    let sfu_port = node.media_addr().port();
    warm_up("sfu", &flows, |flow| {
        let subscriber = &subscribers[flow.subscriber_idx];
        let signalling = subscriber.signalling();
        let last_offer = signalling
            .subscribe_offers
            .last()
            .map(|offer| sdp::sent_stream_ids(offer))
            .unwrap_or_default();
        let offered = last_offer.contains(&flow.stream_id);
        let in_roster = signalling
            .roster
            .iter()
            .filter(|entry| !entry.streams.is_empty())
            .count();
        format!(
            "{} offers ({} answered, the last {} the stream, with {} streams; {} publishers \
             in the roster), subscribe connection {:?} (connected before: {}), errors {:?}, \
             closed {:?}; SFU socket drops so far: {:?}; the publisher: {}",
            signalling.subscribe_offers.len(),
            signalling.subscribe_answers_sent,
            if offered { "with" } else { "without" },
            last_offer.len(),
            in_roster,
            subscriber.subscribe_state(),
            subscriber.subscribe_connected_at().is_some(),
            signalling.errors,
            signalling.closed,
            udp_socket_drops(sfu_port).ok(),
            publishers
                .iter()
                .find(|publisher| publisher.stream_id() == flow.stream_id)
                .map(|publisher| {
                    let signalling = publisher.signalling();
                    format!(
                        "publish connection {:?}, {} video packets sent, errors {:?}, closed {:?}",
                        publisher.publish_state(),
                        publisher.media(|log| log.sent_video.packet_sent_at.len()),
                        signalling.errors,
                        signalling.closed
                    )
                })
                .unwrap_or_default(),
        )
    })
    .await?;

    let counts = measure_window(
        &sfu_runtime,
        shape.window,
        || node.load().forwarded_packets,
        || udp_socket_drops(sfu_port).ok(),
    )
    .await?;
    tokio::time::sleep(GRACE).await;
    let report = RunReport::new(
        "sfu",
        format!(
            "{} publishers -> 1 SFU node -> {} subscribers",
            shape.n_publishers, shape.n_subscribers
        ),
        counts,
        &flows,
        shape.n_subscribers,
    );
    for participant in publishers.into_iter().chain(subscribers) {
        participant.close().await;
    }
    shutdown.cancel();
    sfu_runtime.stop();
    Ok(report)
}

/// The same cameras over N×M direct peer connections (a mesh: each publisher sends one copy
/// per subscriber), each pair through its own UDP relay; all relays share one thread. The
/// relays deliver exactly as many packets as the SFU does but only copy datagrams, so their
/// CPU is the floor for moving this traffic through a user-space process, and their latency
/// is that of the webrtc-rs stacks plus one loopback hop.
pub async fn through_plain_relays(shape: Shape) -> anyhow::Result<RunReport> {
    let relay_runtime = DedicatedRuntime::start("relay")?;
    let shutdown = CancellationToken::new();
    let tasks = Tasks::default();
    let subscriber_logs: Vec<SharedMediaLog> = (0..shape.n_subscribers)
        .map(|_| SharedMediaLog::default())
        .collect();
    let mut peers = Vec::new();
    let mut relays = Vec::new();
    let mut flows = Vec::new();
    for publisher_idx in 0..shape.n_publishers {
        for (subscriber_idx, subscriber_log) in subscriber_logs.iter().enumerate() {
            let stream_id = format!("publisher-{publisher_idx}");
            let publisher_log = SharedMediaLog::default();
            let (publisher, subscriber, relay) = connect_pair(
                &stream_id,
                shape.pattern,
                &relay_runtime,
                &shutdown,
                &tasks,
                (publisher_log.clone(), subscriber_log.clone()),
            )
            .await?;
            peers.extend([publisher, subscriber]);
            relays.push(relay);
            flows.push(Flow {
                subscriber_idx,
                sent: publisher_log,
                received: subscriber_log.clone(),
                stream_id,
            });
        }
    }
    warm_up("baseline", &flows, |flow| {
        let pair = flows
            .iter()
            .position(|candidate| std::ptr::eq(candidate, flow))
            .unwrap_or_default();
        let up = |peer: &Peer| {
            if peer.connected_at().is_some() {
                "up"
            } else {
                "not up"
            }
        };
        format!(
            "publisher {}, subscriber {}",
            up(&peers[2 * pair]),
            up(&peers[2 * pair + 1])
        )
    })
    .await?;

    let counts = measure_window(
        &relay_runtime,
        shape.window,
        || {
            relays
                .iter()
                .map(|relay| relay.counts().rtp_to_target)
                .sum()
        },
        || None,
    )
    .await?;
    tokio::time::sleep(GRACE).await;
    let report = RunReport::new(
        "baseline",
        format!(
            "{} publishers -> {} direct pairs via plain UDP relays -> {} subscribers",
            shape.n_publishers,
            shape.n_publishers * shape.n_subscribers,
            shape.n_subscribers
        ),
        counts,
        &flows,
        shape.n_subscribers,
    );
    tasks.stop().await;
    for peer in &peers {
        peer.close().await;
    }
    shutdown.cancel();
    relay_runtime.stop();
    Ok(report)
}

/// One publisher-subscriber pair: the subscriber offers to receive, the publisher answers
/// with its camera, and each sees the other at the relay.
async fn connect_pair(
    stream_id: &str,
    pattern: VideoPattern,
    relay_runtime: &DedicatedRuntime,
    shutdown: &CancellationToken,
    tasks: &Tasks,
    (publisher_log, subscriber_log): (SharedMediaLog, SharedMediaLog),
) -> anyhow::Result<(Peer, Peer, UdpRelay)> {
    let subscriber = Peer::new(subscriber_log, tasks.clone()).await?;
    subscriber
        .connection
        .add_transceiver_from_kind(
            RtpCodecKind::Video,
            Some(RTCRtpTransceiverInit {
                direction: RTCRtpTransceiverDirection::Recvonly,
                ..Default::default()
            }),
        )
        .await?;
    let offer = subscriber.connection.create_offer(None).await?;
    subscriber.connection.set_local_description(offer).await?;
    let offer = subscriber.gathered_local_sdp().await?;
    let subscriber_addr =
        sdp::first_candidate_addr(&offer).context("the subscriber has no candidate")?;
    let relay = relay_runtime
        .handle
        .spawn(UdpRelay::start(
            subscriber_addr,
            LossPattern::default(),
            shutdown.clone(),
        ))
        .await??;

    let publisher = Peer::new(publisher_log.clone(), tasks.clone()).await?;
    let (track, ssrc) = local_track(stream_id, MediaKind::Video);
    publisher.connection.add_track(track.clone()).await?;
    spawn_video_source(
        tasks,
        track,
        ssrc,
        pattern,
        publisher.state(),
        publisher_log,
    );
    let offer = sdp::with_candidates_at(&offer, relay.client_addr());
    publisher
        .connection
        .set_remote_description(RTCSessionDescription::offer(offer)?)
        .await?;
    let answer = publisher.connection.create_answer(None).await?;
    publisher.connection.set_local_description(answer).await?;
    let answer = publisher.gathered_local_sdp().await?;
    let answer = sdp::with_candidates_at(&answer, relay.target_side_addr());
    subscriber
        .connection
        .set_remote_description(RTCSessionDescription::answer(answer)?)
        .await?;
    Ok((publisher, subscriber, relay))
}
