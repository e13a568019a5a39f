//! Synthetic sources on a publishing peer connection: a camera that answers keyframe
//! requests, and a talking microphone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rtc::peer_connection::state::RTCPeerConnectionState;
use rtc::rtcp::payload_feedbacks::full_intra_request::FullIntraRequest;
use rtc::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
use rtc::rtp::extension::HeaderExtension;
use rtc::rtp::extension::audio_level_extension::AudioLevelExtension;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use webrtc::media_stream::track_local::static_rtp::TrackLocalStaticRTP;
use webrtc::media_stream::track_local::{TrackLocal, TrackLocalEvent};

use super::log::{KeyframeRequest, SharedMediaLog, lock};
use super::media::{
    AUDIO_CLOCK_RATE, AUDIO_FRAME, AUDIO_PAYLOAD_TYPE, VIDEO_PAYLOAD_TYPE, VideoPattern,
    Vp8Packetizer, opus_payload,
};
use super::peer::Tasks;

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
        lock(&log).sent_video.first_sequence_number = Some(sequence_number);
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
