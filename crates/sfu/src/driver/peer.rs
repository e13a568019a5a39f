//! Building the SFU's side of a peer connection: ICE-lite on the shared socket's advertised
//! address, VP8 and Opus only, and an interceptor that lets subscribers' keyframe requests
//! and bandwidth estimates reach the forwarding core.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use rtc::ice::mdns::MulticastDnsMode;
use rtc::interceptor::{Attribute, Interceptor, Packet, Registry, Slot, StreamInfo, TaggedPacket};
use rtc::peer_connection::configuration::RTCConfigurationBuilder;
use rtc::peer_connection::configuration::interceptor_registry::{
    configure_nack, configure_rtcp_reports, configure_simulcast_extension_headers,
    configure_twcc_receiver_only,
};
use rtc::peer_connection::configuration::media_engine::{
    MIME_TYPE_OPUS, MIME_TYPE_VP8, MediaEngine,
};
use rtc::peer_connection::configuration::setting_engine::SettingEngineBuilder;
use rtc::peer_connection::transport::{
    CandidateConfig, CandidateHostConfig, RTCIceCandidate, RTCIceCandidateInit,
};
use rtc::peer_connection::{RTCPeerConnection, RTCPeerConnectionBuilder};
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtcp::payload_feedbacks::receiver_estimated_maximum_bitrate::ReceiverEstimatedMaximumBitrate;
use rtc::rtp_transceiver::rtp_sender::{
    RTCPFeedback, RTCRtpCodec, RTCRtpCodecParameters, RTCRtpHeaderExtensionCapability, RtpCodecKind,
};
use rtc::sansio::Protocol;

pub(crate) const VP8_CLOCK_RATE: u32 = 90_000;
pub(crate) const OPUS_CLOCK_RATE: u32 = 48_000;

pub(crate) fn vp8() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_VP8.to_owned(),
        clock_rate: VP8_CLOCK_RATE,
        channels: 0,
        sdp_fmtp_line: String::new(),
        rtcp_feedback: vec![],
    }
}

pub(crate) fn opus() -> RTCRtpCodec {
    RTCRtpCodec {
        mime_type: MIME_TYPE_OPUS.to_owned(),
        clock_rate: OPUS_CLOCK_RATE,
        channels: 2,
        sdp_fmtp_line: "minptime=10;useinbandfec=1".to_owned(),
        rtcp_feedback: vec![],
    }
}

/// One codec per kind, so every publisher sends what every subscriber can decode (an SFU
/// forwards, it never transcodes). VP8 has no RTX: rtc drops RTX on simulcast layers, and
/// without it Chromium retransmits NACKed packets on the original SSRC, which works for both.
fn media_engine() -> Result<MediaEngine, rtc::shared::error::Error> {
    let mut media_engine = MediaEngine::default();
    media_engine.register_codec(
        RTCRtpCodecParameters {
            rtp_codec: opus(),
            payload_type: 111,
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
                    feedback("goog-remb", ""),
                    feedback("ccm", "fir"),
                    feedback("nack", ""),
                    feedback("nack", "pli"),
                ],
                ..vp8()
            },
            payload_type: 96,
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

/// Which way media flows on a connection, which decides who estimates bandwidth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    /// The browser sends: the SFU returns transport-wide congestion control feedback, so the
    /// browser's encoder estimates its uplink and enables the simulcast layers it can carry.
    Publish,
    /// The browser receives: without transport-cc the browser estimates its downlink itself
    /// and reports it in REMB, which the forwarding core spends on layers.
    Subscribe,
}

/// A new SFU-side peer connection whose only candidates are the shared socket's advertised
/// address (and the ICE-TCP port) and whose ICE username fragment is `ufrag`, by which the
/// driver routes to it.
pub(crate) fn new_peer_connection(
    ufrag: &str,
    password: &str,
    advertised_addr: SocketAddr,
    tcp_addr: Option<SocketAddr>,
    direction: Direction,
    now: Instant,
) -> Result<RTCPeerConnection, rtc::shared::error::Error> {
    let mut media_engine = media_engine()?;
    let registry = configure_nack(Registry::new(), &mut media_engine);
    configure_simulcast_extension_headers(&mut media_engine)?;
    let registry = match direction {
        Direction::Publish => configure_twcc_receiver_only(registry, &mut media_engine)?,
        Direction::Subscribe => registry,
    };
    let registry = configure_rtcp_reports(registry)
        // After every built-in interceptor (the highest is 11 000), so NACKs are answered
        // and reports consumed before the rest is handed to us.
        .with(Slot::from(11_500), FeedbackTap::default());
    let setting_engine = SettingEngineBuilder::new()
        .with_lite(true)
        .with_ice_credentials(ufrag.to_owned(), password.to_owned())
        .with_multicast_dns_mode(MulticastDnsMode::Disabled)
        .build();
    let mut peer_connection = RTCPeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_media_engine(media_engine)
        .with_setting_engine(setting_engine)
        .with_interceptor_registry(registry)
        .build(now)?;
    let candidate = CandidateHostConfig {
        base_config: CandidateConfig {
            network: "udp".to_owned(),
            address: advertised_addr.ip().to_string(),
            port: advertised_addr.port(),
            component: 1,
            ..Default::default()
        },
        ..Default::default()
    }
    .new_candidate_host()?;
    peer_connection.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
    if let Some(tcp_addr) = tcp_addr {
        // Passive: browsers connect to it (RFC 6544); lower priority than UDP by type.
        let candidate = CandidateHostConfig {
            base_config: CandidateConfig {
                network: "tcp".to_owned(),
                address: tcp_addr.ip().to_string(),
                port: tcp_addr.port(),
                component: 1,
                ..Default::default()
            },
            tcp_type: rtc::ice::tcp_type::TcpType::Passive,
        }
        .new_candidate_host()?;
        peer_connection.add_local_candidate(RTCIceCandidate::from(&candidate).to_json()?)?;
    }
    peer_connection.add_local_candidate(RTCIceCandidateInit::default())?;
    Ok(peer_connection)
}

/// rtc's interceptor chain drops incoming RTCP unless something marks it for the
/// application; this marks what the forwarding core acts on.
#[derive(Default)]
struct FeedbackTap {
    reads: VecDeque<TaggedPacket>,
    writes: VecDeque<TaggedPacket>,
}

impl Protocol<TaggedPacket, TaggedPacket, ()> for FeedbackTap {
    type Rout = TaggedPacket;
    type Wout = TaggedPacket;
    type Eout = ();
    type Error = rtc::shared::error::Error;
    type Time = Instant;

    fn handle_read(&mut self, mut message: TaggedPacket) -> Result<(), Self::Error> {
        if let Packet::Rtcp(packets) = &message.message.packet {
            let wanted: Vec<Box<dyn rtc::rtcp::Packet>> = packets
                .iter()
                .filter(|packet| {
                    let packet = packet.as_any();
                    packet.is::<PictureLossIndication>()
                        || packet.is::<FullIntraRequest>()
                        || packet.is::<ReceiverEstimatedMaximumBitrate>()
                })
                .cloned()
                .collect();
            if wanted.is_empty() {
                return Ok(());
            }
            message.message.packet = Packet::Rtcp(wanted);
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

impl Interceptor for FeedbackTap {
    fn bind_local_stream(&mut self, _: &StreamInfo) {}
    fn unbind_local_stream(&mut self, _: &StreamInfo) {}
    fn bind_remote_stream(&mut self, _: &StreamInfo) {}
    fn unbind_remote_stream(&mut self, _: &StreamInfo) {}
}
