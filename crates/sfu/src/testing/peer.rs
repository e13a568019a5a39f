//! One webrtc-rs peer connection on loopback, set up like a browser's towards the SFU: Opus
//! and VP8 without RTX, the audio-level extension, NACK, and keyframe requests handed to the
//! application. Every track it receives is recorded in its [`MediaLog`](super::MediaLog).

use std::collections::HashMap;
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
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpCodingParameters,
    RTCRtpEncodingParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_remote::{TrackRemote, TrackRemoteEvent};
use webrtc::peer_connection::{PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler};

use super::log::{RemoteStreamKey, SharedMediaLog, lock};
use super::media::{AUDIO_CLOCK_RATE, AUDIO_PAYLOAD_TYPE, VIDEO_CLOCK_RATE, VIDEO_PAYLOAD_TYPE};
use crate::forwarding::MediaKind;

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
