//! A user-space UDP relay between one client and one target, optionally dropping a
//! deterministic share of the RTP datagrams it passes one way: a lossy link for NACK tests,
//! and a forwarding baseline for the benchmark.
//!
//! The client sends to [`UdpRelay::client_addr`]; the relay sends that on to the target from
//! [`UdpRelay::target_side_addr`], and what comes back there to whoever last sent from the
//! client side. Point the client's remote candidate at the first address, and (when the target
//! is a full ICE agent) the target's remote candidate at the second.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

/// Which datagrams are lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LossPattern {
    /// Drop one (S)RTP datagram in this many (0: none). STUN, DTLS and RTCP always pass, so
    /// that the connection comes up and feedback flows; only media is lost.
    pub drop_one_in: u32,
    /// Only count and drop RTP of this payload type (the header is not encrypted by SRTP).
    pub payload_type: Option<u8>,
    /// The way the lost datagrams travel.
    pub toward: Toward,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Toward {
    /// From the target to the client (an SFU's media to a subscriber).
    #[default]
    Client,
    /// From the client to the target (a publisher's media to an SFU).
    Target,
}

/// Counts media one way and says which datagram to drop.
struct Lossy {
    pattern: LossPattern,
    n_media: u64,
}

impl Lossy {
    fn drops(&mut self, datagram: &[u8], toward: Toward) -> bool {
        if self.pattern.drop_one_in == 0
            || self.pattern.toward != toward
            || !is_lossy_media(datagram, self.pattern.payload_type)
        {
            return false;
        }
        self.n_media += 1;
        self.n_media
            .is_multiple_of(u64::from(self.pattern.drop_one_in))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RelayCounts {
    /// Every datagram passed on each way, and of those the RTP ones.
    pub to_target: u64,
    pub rtp_to_target: u64,
    pub to_client: u64,
    pub rtp_to_client: u64,
    pub dropped: u64,
}

#[derive(Debug, Default)]
struct Counters {
    to_target: AtomicU64,
    rtp_to_target: AtomicU64,
    to_client: AtomicU64,
    rtp_to_client: AtomicU64,
    dropped: AtomicU64,
}

pub struct UdpRelay {
    client_addr: SocketAddr,
    target_side_addr: SocketAddr,
    counters: Arc<Counters>,
}

impl UdpRelay {
    /// Binds two loopback sockets and relays on the current runtime until `shutdown`.
    pub async fn start(
        target: SocketAddr,
        loss: LossPattern,
        shutdown: CancellationToken,
    ) -> std::io::Result<Self> {
        let client_side = UdpSocket::bind("127.0.0.1:0").await?;
        let target_side = UdpSocket::bind("127.0.0.1:0").await?;
        let relay = Self {
            client_addr: client_side.local_addr()?,
            target_side_addr: target_side.local_addr()?,
            counters: Arc::new(Counters::default()),
        };
        let counters = relay.counters.clone();
        tokio::spawn(async move {
            let mut from_client = vec![0u8; 2048];
            let mut from_target = vec![0u8; 2048];
            let mut client: Option<SocketAddr> = None;
            let mut lossy = Lossy {
                pattern: loss,
                n_media: 0,
            };
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    received = client_side.recv_from(&mut from_client) => {
                        let Ok((n_bytes, sender)) = received else { continue };
                        client = Some(sender);
                        let datagram = &from_client[..n_bytes];
                        if lossy.drops(datagram, Toward::Target) {
                            counters.dropped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        if is_lossy_media(datagram, None) {
                            counters.rtp_to_target.fetch_add(1, Ordering::Relaxed);
                        }
                        counters.to_target.fetch_add(1, Ordering::Relaxed);
                        let _ = target_side.send_to(datagram, target).await;
                    }
                    received = target_side.recv_from(&mut from_target) => {
                        let Ok((n_bytes, _)) = received else { continue };
                        let Some(client) = client else { continue };
                        let datagram = &from_target[..n_bytes];
                        if lossy.drops(datagram, Toward::Client) {
                            counters.dropped.fetch_add(1, Ordering::Relaxed);
                            continue;
                        }
                        if is_lossy_media(datagram, None) {
                            counters.rtp_to_client.fetch_add(1, Ordering::Relaxed);
                        }
                        counters.to_client.fetch_add(1, Ordering::Relaxed);
                        let _ = client_side.send_to(datagram, client).await;
                    }
                }
            }
        });
        Ok(relay)
    }

    /// Where the client sends.
    pub fn client_addr(&self) -> SocketAddr {
        self.client_addr
    }

    /// Where the target sees the client.
    pub fn target_side_addr(&self) -> SocketAddr {
        self.target_side_addr
    }

    pub fn counts(&self) -> RelayCounts {
        RelayCounts {
            to_target: self.counters.to_target.load(Ordering::Relaxed),
            rtp_to_target: self.counters.rtp_to_target.load(Ordering::Relaxed),
            to_client: self.counters.to_client.load(Ordering::Relaxed),
            rtp_to_client: self.counters.rtp_to_client.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
        }
    }
}

/// RTP (RFC 7983: first byte 128-191) that is not RTCP (RFC 5761: second byte 192-223), of
/// `payload_type` if given.
fn is_lossy_media(datagram: &[u8], payload_type: Option<u8>) -> bool {
    let (Some(&first), Some(&second)) = (datagram.first(), datagram.get(1)) else {
        return false;
    };
    (128..=191).contains(&first)
        && !(192..=223).contains(&second)
        && payload_type.is_none_or(|payload_type| second & 0x7f == payload_type)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_rtp_of_the_chosen_payload_type_is_lossy() {
        // RTP, PT 96 with the marker bit.
        assert!(is_lossy_media(&[0x80, 0x80 | 96, 0, 1], Some(96)));
        assert!(!is_lossy_media(&[0x80, 111, 0, 1], Some(96)));
        assert!(is_lossy_media(&[0x80, 111, 0, 1], None));
        // RTCP receiver report, STUN, DTLS.
        assert!(!is_lossy_media(&[0x81, 201, 0, 7], None));
        assert!(!is_lossy_media(&[0x00, 0x01, 0, 0], None));
        assert!(!is_lossy_media(&[0x16, 0xfe, 0xfd], None));
    }
}
