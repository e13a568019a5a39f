//! What the participants' media logs say about a window of the run: packets each publisher's
//! camera sent and how many reached each other participant of its meeting, how long each
//! took (the stamp in every synthetic packet carries its send time, as in the sfu crate's
//! forwarding benchmark), and everything subscribers received. Pure: no IO, tested on
//! hand-made logs.

use std::collections::HashSet;
use std::sync::PoisonError;
use std::time::{Duration, Instant};

use convene_sfu::forwarding::MediaKind;
use convene_sfu::testing::{MediaLog, SharedMediaLog};

use crate::metrics::LatencyRecorder;

/// One participant of one meeting, as the measurement sees it.
#[derive(Clone)]
pub struct MeasuredPeer {
    pub meeting_idx: usize,
    /// The stream id the others receive this participant's tracks under (its session id).
    pub stream_id: String,
    pub log: SharedMediaLog,
}

#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn seconds(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }

    fn contains(&self, at: Instant) -> bool {
        at >= self.start && at <= self.end
    }
}

/// Totals over every (publisher camera → subscriber) flow of every meeting.
#[derive(Debug, Default)]
pub struct WindowMedia {
    /// Flows measured: each publisher's camera, once per other participant of its meeting.
    pub video_flows: u64,
    /// Video packets publishers sent during the window, counted once per subscriber.
    pub video_expected: u64,
    /// How many of those reached their subscriber (at any time before measuring).
    pub video_received: u64,
    /// The largest share any one subscriber missed.
    pub worst_subscriber_loss: f64,
    /// Every RTP packet (audio and video, retransmissions included) subscribers received
    /// during the window: what the SFU forwarded, as its receivers saw it.
    pub packets_received_in_window: u64,
    /// Publisher to subscriber through the SFU, per packet, from the packet's stamp.
    pub latency: LatencyRecorder,
}

impl WindowMedia {
    pub fn loss(&self) -> f64 {
        loss(self.video_expected, self.video_received)
    }
}

fn loss(expected: u64, received: u64) -> f64 {
    if expected == 0 {
        return 0.0;
    }
    expected.saturating_sub(received) as f64 / expected as f64
}

fn read(log: &SharedMediaLog) -> std::sync::MutexGuard<'_, MediaLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Packet indexes of the publisher's camera sent during `window`, as a half-open range.
fn sent_during(publisher: &SharedMediaLog, window: Window) -> (u32, u32) {
    let log = read(publisher);
    let times = &log.sent_video.packet_sent_at;
    let first = times.partition_point(|at| *at < window.start);
    let last = times.partition_point(|at| *at <= window.end);
    (
        u32::try_from(first).unwrap_or(u32::MAX),
        u32::try_from(last).unwrap_or(u32::MAX),
    )
}

pub fn measure(peers: &[MeasuredPeer], window: Window) -> WindowMedia {
    let mut media = WindowMedia::default();
    let sent: Vec<(u32, u32)> = peers
        .iter()
        .map(|peer| sent_during(&peer.log, window))
        .collect();
    for subscriber in peers {
        let log = read(&subscriber.log);
        media.packets_received_in_window += log
            .received
            .values()
            .flat_map(|stream| &stream.arrivals)
            .filter(|arrival| window.contains(arrival.at))
            .count() as u64;
        let (mut expected, mut received) = (0u64, 0u64);
        let publishers = peers.iter().zip(&sent).filter(|(publisher, _)| {
            publisher.meeting_idx == subscriber.meeting_idx
                && publisher.stream_id != subscriber.stream_id
        });
        for (publisher, &(first, last)) in publishers {
            media.video_flows += 1;
            expected += u64::from(last.saturating_sub(first));
            let Some(stream) = log.received(&publisher.stream_id, MediaKind::Video) else {
                continue;
            };
            let mut distinct = HashSet::new();
            for arrival in &stream.arrivals {
                let Some(stamp) = arrival.stamp else { continue };
                if arrival.duplicate || !(first..last).contains(&stamp.packet_index) {
                    continue;
                }
                if distinct.insert(stamp.packet_index) {
                    media.latency.record(
                        arrival.at.saturating_duration_since(stamp.sent_at),
                        arrival.at.saturating_duration_since(window.start),
                    );
                }
            }
            received += distinct.len() as u64;
        }
        media.video_expected += expected;
        media.video_received += received;
        media.worst_subscriber_loss = media.worst_subscriber_loss.max(loss(expected, received));
    }
    media
}

/// When a participant first received anything from anyone; `None` before.
pub fn first_arrival(log: &SharedMediaLog) -> Option<Instant> {
    read(log)
        .received
        .values()
        .filter_map(|stream| stream.first().map(|arrival| arrival.at))
        .min()
}

/// Whether `subscriber` receives media of `kind` from every other participant of its
/// meeting.
pub fn receives_everyone(
    peers: &[MeasuredPeer],
    subscriber: &MeasuredPeer,
    kind: MediaKind,
) -> bool {
    let log = read(&subscriber.log);
    peers
        .iter()
        .filter(|publisher| {
            publisher.meeting_idx == subscriber.meeting_idx
                && publisher.stream_id != subscriber.stream_id
        })
        .all(|publisher| {
            log.received(&publisher.stream_id, kind)
                .is_some_and(|stream| stream.packets() > 0)
        })
}

/// A duration in whole microseconds for JSON, saturating.
pub fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use convene_sfu::testing::{Arrival, ReceivedStream, RemoteStreamKey, Stamp};
    use std::sync::{Arc, Mutex};

    fn peer(meeting_idx: usize, stream_id: &str) -> MeasuredPeer {
        MeasuredPeer {
            meeting_idx,
            stream_id: stream_id.to_owned(),
            log: Arc::new(Mutex::new(MediaLog::default())),
        }
    }

    fn arrival(at: Instant, packet_index: u32, sent_at: Instant) -> Arrival {
        Arrival {
            at,
            sequence_number: packet_index as u16,
            stamp: Some(Stamp {
                frame: packet_index,
                packet_index,
                sent_at,
            }),
            keyframe_start: false,
            duplicate: false,
        }
    }

    #[test]
    fn loss_and_latency_count_packets_sent_inside_the_window_once_per_subscriber() {
        let start = Instant::now();
        let ms = Duration::from_millis;
        let ada = peer(0, "ada");
        let ben = peer(0, "ben");
        let elsewhere = peer(1, "cy");
        // Ada sent packets 0..10 at 0, 10, …, 90 ms.
        read(&ada.log).sent_video.packet_sent_at = (0..10).map(|i| start + ms(i * 10)).collect();
        // Ben got 0..8 of them 5 ms later, packet 3 twice (a retransmission).
        let mut stream = ReceivedStream::default();
        for index in 0..8u32 {
            let sent_at = start + ms(u64::from(index) * 10);
            stream
                .arrivals
                .push(arrival(sent_at + ms(5), index, sent_at));
        }
        let mut resent = arrival(start + ms(45), 3, start + ms(30));
        resent.duplicate = true;
        stream.arrivals.push(resent);
        read(&ben.log).received.insert(
            RemoteStreamKey {
                stream_id: "ada".to_owned(),
                kind: MediaKind::Video,
            },
            stream,
        );
        // The window holds packets 2..=6 (20 to 60 ms).
        let window = Window {
            start: start + ms(20),
            end: start + ms(60),
        };
        let media = measure(&[ada, ben, elsewhere], window);
        // Ada → Ben and Ben → Ada (Ben sent nothing); Cy is alone in another meeting.
        assert_eq!(media.video_flows, 2);
        assert_eq!(media.video_expected, 5);
        assert_eq!(media.video_received, 5);
        assert_eq!(media.latency.count(), 5);
        assert!((media.latency.summary().p50_ms - 5.0).abs() < 0.1);
        // Arrivals at 25, 35, 45 (twice), 55 ms.
        assert_eq!(media.packets_received_in_window, 5);
        assert_eq!(media.loss(), 0.0);
    }

    #[test]
    fn a_subscriber_that_received_nothing_lost_everything() {
        let start = Instant::now();
        let ada = peer(0, "ada");
        let ben = peer(0, "ben");
        read(&ada.log).sent_video.packet_sent_at = vec![start; 4];
        let window = Window {
            start,
            end: start + Duration::from_secs(1),
        };
        let media = measure(&[ada.clone(), ben.clone()], window);
        assert_eq!(media.video_expected, 4);
        assert_eq!(media.video_received, 0);
        assert_eq!(media.worst_subscriber_loss, 1.0);
        assert!(!receives_everyone(
            &[ada, ben.clone()],
            &ben,
            MediaKind::Video
        ));
        assert_eq!(first_arrival(&ben.log), None);
    }
}
