//! What one run measured, over a window of wall-clock time, from the participants' media
//! logs and the forwarder's counters.

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use convene_sfu::forwarding::MediaKind;
use convene_sfu::testing::SharedMediaLog;

/// One publisher's camera as one subscriber receives it.
pub struct Flow {
    pub subscriber_idx: usize,
    pub sent: SharedMediaLog,
    pub received: SharedMediaLog,
    pub stream_id: String,
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
}

/// Packets the publisher sent during the window, how many of those reached the subscriber,
/// and how long each took (first arrival; a retransmission counts from the original send).
#[derive(Debug, Default)]
pub struct FlowStats {
    pub sent: u64,
    pub received: u64,
    pub latencies: Vec<Duration>,
}

pub fn flow_stats(flow: &Flow, window: Window) -> FlowStats {
    let (first, last) = {
        let sent = flow.sent.lock().unwrap_or_else(PoisonError::into_inner);
        let times = &sent.sent_video.packet_sent_at;
        (
            times.partition_point(|at| *at < window.start) as u32,
            times.partition_point(|at| *at <= window.end) as u32,
        )
    };
    let received = flow.received.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(stream) = received.received(&flow.stream_id, MediaKind::Video) else {
        return FlowStats {
            sent: u64::from(last - first),
            ..FlowStats::default()
        };
    };
    let latencies = stream
        .arrivals
        .iter()
        .filter(|arrival| !arrival.duplicate)
        .filter_map(|arrival| {
            let stamp = arrival.stamp?;
            (first..last)
                .contains(&stamp.packet_index)
                .then(|| arrival.at.saturating_duration_since(stamp.sent_at))
        })
        .collect();
    FlowStats {
        sent: u64::from(last - first),
        received: (first..last)
            .filter(|&index| stream.contains(index))
            .count() as u64,
        latencies,
    }
}

/// Counters read before and after the window, as differences.
#[derive(Debug, Clone, Copy)]
pub struct WindowCounts {
    pub window: Window,
    /// Packets the forwarder sent on (the SFU's counter, or the relays' RTP datagrams).
    pub forwarded: u64,
    pub forwarder_cpu: Duration,
    pub process_cpu: Duration,
    /// Datagrams dropped at the SFU's socket because its receive buffer was full.
    pub forwarder_socket_drops: Option<u64>,
    /// The same on every UDP socket of the machine.
    pub receive_buffer_drops: u64,
}

/// One topology's results.
#[derive(Debug)]
pub struct RunReport {
    pub name: &'static str,
    pub topology: String,
    pub window: Window,
    pub forwarded_packets: u64,
    pub forwarder_cpu: Duration,
    pub process_cpu: Duration,
    pub forwarder_socket_drops: Option<u64>,
    pub receive_buffer_drops: u64,
    pub per_subscriber: Vec<(u64, u64)>,
    pub latencies: Vec<Duration>,
}

impl RunReport {
    pub fn new(
        name: &'static str,
        topology: String,
        counts: WindowCounts,
        flows: &[Flow],
        n_subscribers: usize,
    ) -> Self {
        let window = counts.window;
        let mut per_subscriber = vec![(0, 0); n_subscribers];
        let mut latencies = Vec::new();
        for flow in flows {
            let stats = flow_stats(flow, window);
            per_subscriber[flow.subscriber_idx].0 += stats.sent;
            per_subscriber[flow.subscriber_idx].1 += stats.received;
            latencies.extend(stats.latencies);
        }
        latencies.sort_unstable();
        Self {
            name,
            topology,
            window,
            forwarded_packets: counts.forwarded,
            forwarder_cpu: counts.forwarder_cpu,
            process_cpu: counts.process_cpu,
            forwarder_socket_drops: counts.forwarder_socket_drops,
            receive_buffer_drops: counts.receive_buffer_drops,
            per_subscriber,
            latencies,
        }
    }

    pub fn forwarded_per_second(&self) -> f64 {
        self.forwarded_packets as f64 / self.window.seconds()
    }

    /// Cores the forwarder kept busy on average.
    pub fn forwarder_cores(&self) -> f64 {
        self.forwarder_cpu.as_secs_f64() / self.window.seconds()
    }

    pub fn process_cores(&self) -> f64 {
        self.process_cpu.as_secs_f64() / self.window.seconds()
    }

    /// Forwarded packets per second of the forwarder's CPU time.
    pub fn packets_per_core_second(&self) -> f64 {
        self.forwarded_packets as f64 / self.forwarder_cpu.as_secs_f64().max(1e-9)
    }

    pub fn cpu_per_packet(&self) -> Duration {
        self.forwarder_cpu
            .checked_div(self.forwarded_packets.max(1) as u32)
            .unwrap_or_default()
    }

    pub fn sent(&self) -> u64 {
        self.per_subscriber.iter().map(|(sent, _)| sent).sum()
    }

    pub fn received(&self) -> u64 {
        self.per_subscriber
            .iter()
            .map(|(_, received)| received)
            .sum()
    }

    pub fn loss(&self) -> f64 {
        loss(self.sent(), self.received())
    }

    pub fn worst_subscriber_loss(&self) -> f64 {
        self.per_subscriber
            .iter()
            .map(|&(sent, received)| loss(sent, received))
            .fold(0.0, f64::max)
    }

    pub fn latency_percentile(&self, percent: usize) -> Duration {
        percentile(&self.latencies, percent)
    }
}

fn loss(sent: u64, received: u64) -> f64 {
    if sent == 0 {
        return 0.0;
    }
    sent.saturating_sub(received) as f64 / sent as f64
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[Duration], percent: usize) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * percent).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}
