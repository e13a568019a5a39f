//! One webrtc-rs peer connection on loopback, set up like a browser's towards the SFU (Opus
//! and VP8 without RTX, the audio-level extension, NACK and keyframe requests), and the
//! synthetic sources and recorders that run on it.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use anyhow::Context;
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::media_stream::MediaStreamTrack;
use rtc::peer_connection::configuration::interceptor_registry::register_default_interceptors;
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::state::{RTCIceGatheringState, RTCPeerConnectionState};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};

use super::media::{
    AUDIO_CLOCK_RATE, AUDIO_FRAME, AUDIO_PAYLOAD_TYPE, Stamp, VIDEO_CLOCK_RATE, VIDEO_PAYLOAD_TYPE,
    VideoPattern, Vp8Packetizer, opus_payload, vp8_starts_keyframe,
};
use crate::forwarding::MediaKind;

/// What a peer (or a participant's two peers) sent and received, shared with its tasks.
pub type SharedMediaLog = Arc<Mutex<MediaLog>>;

pub(crate) fn lock(log: &SharedMediaLog) -> std::sync::MutexGuard<'_, MediaLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Default)]
pub struct MediaLog {
    pub received: HashMap<RemoteStreamKey, ReceivedStream>,
    pub sent_video: SentVideo,
    pub sent_audio_packets: u64,
}

impl MediaLog {
    pub fn received(&self, stream_id: &str, kind: MediaKind) -> Option<&ReceivedStream> {
        self.received.get(&RemoteStreamKey {
            stream_id: stream_id.to_owned(),
            kind,
        })
    }
}

/// A track received from the SFU: the publisher's stream id (its session id) and the kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemoteStreamKey {
    pub stream_id: String,
    pub kind: MediaKind,
}

#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    pub at: Instant,
    pub sequence_number: u16,
    pub stamp: Option<Stamp>,
    /// The first packet of a VP8 keyframe.
    pub keyframe_start: bool,
    /// The stamp's packet arrived before (a retransmission that was not needed).
    pub duplicate: bool,
}

#[derive(Debug, Default)]
pub struct ReceivedStream {
    /// Every packet, in arrival order.
    pub arrivals: Vec<Arrival>,
    seen: HashSet<u32>,
}

impl ReceivedStream {
    fn record(&mut self, at: Instant, packet: &rtc::rtp::Packet, kind: MediaKind) {
        let stamp = Stamp::read(&packet.payload);
        let duplicate = stamp.is_some_and(|stamp| !self.seen.insert(stamp.packet_index));
        self.arrivals.push(Arrival {
            at,
            sequence_number: packet.header.sequence_number,
            stamp,
            keyframe_start: kind == MediaKind::Video && vp8_starts_keyframe(&packet.payload),
            duplicate,
        });
    }

    /// Packets received, retransmissions included.
    pub fn packets(&self) -> usize {
        self.arrivals.len()
    }

    /// Distinct packets (by the publisher's packet index) received.
    pub fn distinct_packets(&self) -> usize {
        self.seen.len()
    }

    pub fn contains(&self, packet_index: u32) -> bool {
        self.seen.contains(&packet_index)
    }

    /// Distinct RTP sequence numbers received (16-bit, so meaningful below 65 536 packets).
    pub fn distinct_sequence_numbers(&self) -> usize {
        let numbers: HashSet<u16> = self.arrivals.iter().map(|a| a.sequence_number).collect();
        numbers.len()
    }

    /// Packets missing between the first and the last packet index received.
    pub fn missing(&self) -> usize {
        let (Some(first), Some(last)) = (self.seen.iter().min(), self.seen.iter().max()) else {
            return 0;
        };
        (last - first + 1) as usize - self.seen.len()
    }

    pub fn first(&self) -> Option<&Arrival> {
        self.arrivals.first()
    }

    pub fn keyframes(&self) -> usize {
        self.arrivals.iter().filter(|a| a.keyframe_start).count()
    }
}

#[derive(Debug, Default)]
pub struct SentVideo {
    pub frames: u32,
    /// When each packet (by packet index) was handed to the peer connection.
    pub packet_sent_at: Vec<Instant>,
    /// Frame numbers of the keyframes sent.
    pub keyframes: Vec<u32>,
    pub keyframe_requests: Vec<KeyframeRequest>,
}

/// A PLI or FIR about our video, as it reached us.
#[derive(Debug, Clone, Copy)]
pub struct KeyframeRequest {
    pub at: Instant,
    /// The frame the source was about to send, which answers it with a keyframe.
    pub next_frame: u32,
}

/// The tasks of one participant or benchmark side, and their shared stop signal.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    pub tracker: TaskTracker,
    pub shutdown: CancellationToken,
}

impl Tasks {
    pub fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let shutdown = self.shutdown.clone();
        self.tracker.spawn(async move {
            tokio::select! {
                () = shutdown.cancelled() => {}
                () = future => {}
            }
        });
    }

    /// Stops every task and waits (bounded) for them to end.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        self.tracker.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.tracker.wait()).await;
    }
}

/// A loopback peer connection with its state, and the recorder of every track it receives.
pub struct Peer {
    pub connection: Arc<dyn PeerConnection>,
    connected_at: Arc<Mutex<Option<Instant>>>,
    remote_tracks: RemoteTracks,
    state: watch::Receiver<RTCPeerConnectionState>,
    gathering: watch::Receiver<RTCIceGatheringState>,
}

impl Peer {
    pub async fn new(log: SharedMediaLog, tasks: Tasks) -> anyhow::Result<Self> {
        let (state_tx, state) = watch::channel(RTCPeerConnectionState::New);
        let (gathering_tx, gathering) = watch::channel(RTCIceGatheringState::New);
        let connected_at = Arc::new(Mutex::new(None));
        let remote_tracks = RemoteTracks::default();
        let handler = Handler {
            connected_at: connected_at.clone(),
            remote_tracks: remote_tracks.clone(),
            state: state_tx,
            gathering: gathering_tx,
            log,
            tasks,
        };
        let mut media_engine = media_engine()?;
        let registry = register_default_interceptors(Registry::new(), &mut media_engine)?
            // After every built-in interceptor, so NACKs and reports are consumed first.
            .with(Slot::from(14_000), KeyframeRequestTap::default());
        let setting_engine = SettingEngineBuilder::new()
            .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
            .build();
        let connection = PeerConnectionBuilder::new()
            .with_media_engine(media_engine)
            .with_setting_engine(setting_engine)
            .with_interceptor_registry(registry)
            .with_handler(Arc::new(handler))
            .with_udp_addrs(vec!["127.0.0.1:0".to_owned()])
            .build()
            .await
            .context("building a peer connection")?;
        Ok(Self {
            connection: Arc::new(connection),
            connected_at,
            remote_tracks,
            state,
            gathering,
        })
    }

    pub fn state(&self) -> watch::Receiver<RTCPeerConnectionState> {
        self.state.clone()
    }

    /// When the connection first reached `Connected` (ICE and DTLS done).
    pub fn connected_at(&self) -> Option<Instant> {
        *self
            .connected_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The local description once candidate gathering is complete (a browser that does not
    /// trickle; the SFU has no trickle API, and ICE-lite does not need our candidates).
    pub async fn gathered_local_sdp(&self) -> anyhow::Result<String> {
        let mut gathering = self.gathering.clone();
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            gathering.wait_for(|state| *state == RTCIceGatheringState::Complete),
        )
        .await;
        self.connection
            .local_description()
            .await
            .map(|description| description.sdp)
            .context("no local description")
    }

    pub async fn wait_connected(&self, timeout: Duration) -> anyhow::Result<()> {
        let mut state = self.state.clone();
        tokio::time::timeout(
            timeout,
            state.wait_for(|state| *state == RTCPeerConnectionState::Connected),
        )
        .await
        .context("the peer connection did not connect in time")?
        .context("the peer connection is gone")?;
        Ok(())
    }

    /// Sends a PLI for a received track, as a browser's decoder does when it has no keyframe.
    pub async fn request_keyframe(&self, key: &RemoteStreamKey) -> anyhow::Result<()> {
        let track = self
            .remote_tracks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .cloned()
            .context("no such track received")?;
        let media_ssrc = *track
            .ssrcs()
            .await
            .first()
            .context("the track has no SSRC")?;
        track
            .write_rtcp(vec![Box::new(PictureLossIndication {
                sender_ssrc: 0,
                media_ssrc,
            })])
            .await?;
        Ok(())
    }

    pub async fn close(&self) {
        let _ = self.connection.close().await;
    }
}

type RemoteTracks = Arc<Mutex<HashMap<RemoteStreamKey, Arc<dyn TrackRemote>>>>;

struct Handler {
    connected_at: Arc<Mutex<Option<Instant>>>,
    remote_tracks: RemoteTracks,
    state: watch::Sender<RTCPeerConnectionState>,
    gathering: watch::Sender<RTCIceGatheringState>,
    log: SharedMediaLog,
    tasks: Tasks,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_connection_state_change(&self, state: RTCPeerConnectionState) {
        if state == RTCPeerConnectionState::Connected {
            self.connected_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get_or_insert_with(Instant::now);
        }
        self.state.send_replace(state);
    }

    async fn on_ice_gathering_state_change(&self, state: RTCIceGatheringState) {
        self.gathering.send_replace(state);
    }

    async fn on_track(&self, track: Arc<dyn TrackRemote>) {
        let key = RemoteStreamKey {
            stream_id: track.stream_id().await,
            kind: match track.kind().await {
                RtpCodecKind::Audio => MediaKind::Audio,
                _ => MediaKind::Video,
            },
        };
        lock(&self.log).received.entry(key.clone()).or_default();
        self.remote_tracks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(key.clone(), track.clone());
        self.tasks.spawn(record(track, key, self.log.clone()));
    }
}

/// Drains a received track promptly: webrtc-rs drops packets when a track's queue (256) is
/// full, which would look like loss through the SFU.
async fn record(track: Arc<dyn TrackRemote>, key: RemoteStreamKey, log: SharedMediaLog) {
    while let Some(event) = track.poll().await {
        match event {
            TrackRemoteEvent::OnRtpPacket(packet) => {
                let at = Instant::now();
                lock(&log)
                    .received
                    .entry(key.clone())
                    .or_default()
                    .record(at, &packet, key.kind);
            }
            TrackRemoteEvent::OnEnded => break,
            _ => {}
        }
    }
}

/// Opus and VP8 only, VP8 without RTX, and the audio-level extension: what the SFU accepts.
fn media_engine() -> anyhow::Result<MediaEngine> {
    let mut media_engine = MediaEngine::default();
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus(),
            payload_type: AUDIO_PAYLOAD_TYPE,
        },
        RtpCodecKind::Audio,
    )?;
    let feedback = |typ: &str, parameter: &str| RTCPFeedback {
        typ: typ.to_owned(),
        parameter: parameter.to_owned(),
    };
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: RTCRtpCodec {
                rtcp_feedback: vec![
                    feedback("ccm", "fir"),
                    feedback("nack", ""),
                    feedback("nack", "pli"),
                ],
                ..vp8()
            },
            payload_type: VIDEO_PAYLOAD_TYPE,
        },
        RtpCodecKind::Video,
    )?;
    media_engine.register_header_extension(
        RTCRtpHeaderExtensionCapability {
            uri: rtc::sdp::extmap::AUDIO_LEVEL_URI.to_owned(),
        },
        RtpCodecKind::Audio,
        None,
    )?;
    Ok(media_engine)
}

fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: VIDEO_CLOCK_RATE,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: AUDIO_CLOCK_RATE,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// A local track of one kind with a fixed SSRC, ready for `add_track`.
pub fn local_track(stream_id: &str, kind: MediaKind) -> (Arc<TrackLocalStaticRTP>, u32) {
    let ssrc = rand::random::<u32>();
    let (codec, codec_kind, label) = match kind {
        MediaKind::Audio => (opus(), RtpCodecKind::Audio, "audio"),
        MediaKind::Video => (vp8(), RtpCodecKind::Video, "video"),
    };
    let track = MediaStreamTrack::new(
        stream_id.to_owned(),
        format!("{stream_id}-{label}"),
        format!("{stream_id}-{label}"),
        codec_kind,
        vec![RTCRtpEncodingParameters {
            rtp_coding_parameters: RTCRtpCodingParameters {
                ssrc: Some(ssrc),
                ..Default::default()
            },
            codec,
            ..Default::default()
        }],
    );
    (Arc::new(TrackLocalStaticRTP::new(track)), ssrc)
}

/// Sends synthetic VP8 at `pattern` once `state` is connected (rtc drops what is written
/// before DTLS completes), with a keyframe first and whenever a PLI or FIR arrives.
pub fn spawn_video_source(
    tasks: &Tasks,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    pattern: VideoPattern,
    state: watch::Receiver<RTCPeerConnectionState>,
    log: SharedMediaLog,
) {
    let keyframe_wanted = Arc::new(AtomicBool::new(false));
    tasks.spawn(listen_for_keyframe_requests(
        track.clone(),
        ssrc,
        keyframe_wanted.clone(),
        log.clone(),
    ));
    tasks.spawn(async move {
        if !connected(state).await {
            return;
        }
        let mut packetizer = Vp8Packetizer::new(pattern.max_payload_bytes);
        let mut sequence_number = rand::random::<u16>();
        let mut timestamp = rand::random::<u32>();
        let mut frame = 0u32;
        let mut packet_index = 0u32;
        let mut last_keyframe: Option<Instant> = None;
        let mut ticker = tokio::time::interval(pattern.frame_interval());
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let now = Instant::now();
            let requested = keyframe_wanted.swap(false, Ordering::AcqRel);
            let periodic = pattern
                .keyframe_interval
                .is_some_and(|every| last_keyframe.is_some_and(|at| now - at >= every));
            let keyframe = frame == 0 || requested || periodic;
            let frame_bytes = pattern.frame_bytes(keyframe);
            let payloads = packetizer.frame(frame, keyframe, frame_bytes, packet_index, now);
            let n_packets = payloads.len();
            for (packet_idx, payload) in payloads.into_iter().enumerate() {
                let packet = rtc::rtp::Packet {
                    header: rtc::rtp::Header {
                        version: 2,
                        marker: packet_idx + 1 == n_packets,
                        payload_type: VIDEO_PAYLOAD_TYPE,
                        sequence_number,
                        timestamp,
                        ssrc,
                        ..Default::default()
                    },
                    payload,
                };
                sequence_number = sequence_number.wrapping_add(1);
                if track.write_rtp(packet).await.is_err() {
                    return;
                }
            }
            {
                let mut log = lock(&log);
                let sent = &mut log.sent_video;
                sent.frames += 1;
                sent.packet_sent_at
                    .extend(std::iter::repeat_n(now, n_packets));
                if keyframe {
                    sent.keyframes.push(frame);
                }
            }
            if keyframe {
                last_keyframe = Some(now);
            }
            packet_index += n_packets as u32;
            frame += 1;
            timestamp = timestamp.wrapping_add(pattern.timestamp_step());
        }
    });
}

/// Sends a synthetic Opus packet every 20 ms with the audio-level extension (a speaker at
/// -30 dBov with voice activity), once `state` is connected.
pub fn spawn_audio_source(
    tasks: &Tasks,
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    state: watch::Receiver<RTCPeerConnectionState>,
    log: SharedMediaLog,
) {
    tasks.spawn(async move {
        if !connected(state).await {
            return;
        }
        let mut sequence_number = rand::random::<u16>();
        let mut timestamp = rand::random::<u32>();
        let samples_per_frame = (AUDIO_CLOCK_RATE / 1000) * AUDIO_FRAME.as_millis() as u32;
        let mut frame = 0u32;
        let mut ticker = tokio::time::interval(AUDIO_FRAME);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let packet = rtc::rtp::Packet {
                header: rtc::rtp::Header {
                    version: 2,
                    marker: frame == 0,
                    payload_type: AUDIO_PAYLOAD_TYPE,
                    sequence_number,
                    timestamp,
                    ssrc,
                    ..Default::default()
                },
                payload: opus_payload(frame, Instant::now()),
            };
            let level = HeaderExtension::AudioLevel(AudioLevelExtension {
                level: 30,
                voice: true,
            });
            if track
                .write_rtp_with_extensions(packet, &[level])
                .await
                .is_err()
            {
                return;
            }
            lock(&log).sent_audio_packets += 1;
            sequence_number = sequence_number.wrapping_add(1);
            timestamp = timestamp.wrapping_add(samples_per_frame);
            frame += 1;
        }
    });
}

async fn connected(mut state: watch::Receiver<RTCPeerConnectionState>) -> bool {
    state
        .wait_for(|state| *state == RTCPeerConnectionState::Connected)
        .await
        .is_ok()
}

/// Records each PLI or FIR about `ssrc` and asks the source for a keyframe.
async fn listen_for_keyframe_requests(
    track: Arc<TrackLocalStaticRTP>,
    ssrc: u32,
    keyframe_wanted: Arc<AtomicBool>,
    log: SharedMediaLog,
) {
    loop {
        match track.poll().await {
            Some(TrackLocalEvent::OnRtcpPacket(packets)) => {
                let requests = packets
                    .iter()
                    .filter(|packet| {
                        let packet = packet.as_any();
                        packet
                            .downcast_ref::<PictureLossIndication>()
                            .is_some_and(|pli| pli.media_ssrc == ssrc)
                            || packet
                                .downcast_ref::<FullIntraRequest>()
                                .is_some_and(|fir| fir.fir.iter().any(|entry| entry.ssrc == ssrc))
                    })
                    .count();
                if requests > 0 {
                    let at = Instant::now();
                    let mut log = lock(&log);
                    let next_frame = log.sent_video.frames;
                    log.sent_video.keyframe_requests.extend(std::iter::repeat_n(
                        KeyframeRequest { at, next_frame },
                        requests,
                    ));
                    keyframe_wanted.store(true, Ordering::Release);
                }
            }
            Some(_) => {}
            // Not bound to a negotiated sender yet.
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
}

/// rtc's interceptor chain drops incoming RTCP unless something marks it for the
/// application; this marks the keyframe requests a publisher must answer.
#[derive(Default)]
struct KeyframeRequestTap {
    reads: std::collections::VecDeque<TaggedPacket>,
    writes: std::collections::VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for KeyframeRequestTap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut message: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &message.message.packet {
            let requests: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|packet| {
                    let packet = packet.as_any();
                    packet.is::<PictureLossIndication>() || packet.is::<FullIntraRequest>()
                })
                .cloned()
                .collect();
            if requests.is_empty() {
                return Ok(());
            }
            message.message.packet = Packet::Rtcp(requests);
            message.message.add(Attribute::DeliverToApplication);
        }
        self.reads.push_back(message);
        Ok(())
    }

    fn poll_read(&mut self) -> Option<TaggedPacket> {
        self.reads.pop_front()
    }

    fn handle_write(&mut self, message: TaggedPacket) -> Result<(), Self::Error> {
        self.writes.push_back(message);
        Ok(())
    }

    fn poll_write(&mut self) -> Option<TaggedPacket> {
        self.writes.pop_front()
    }
}

impl Interceptor for KeyframeRequestTap {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}
