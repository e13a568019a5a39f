//! ICE over TCP on one port, for networks that block UDP: browsers connect to the node's
//! passive TCP candidate and frame every packet with a 2-byte length (RFC 4571). Each
//! connection gets a reader and a writer task; the node loop sees packets exactly as it sees
//! UDP datagrams, tagged with the connection's remote address.

use std::net::SocketAddr;

use rtc::shared::tcp_framing::{TcpFrameDecoder, frame_packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Packets queued for one TCP peer before more are dropped (media is loss-tolerant).
const WRITE_QUEUE: usize = 512;

pub(crate) enum TcpEvent {
    Opened {
        peer_addr: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    Packet {
        peer_addr: SocketAddr,
        packet: Vec<u8>,
    },
    Closed {
        peer_addr: SocketAddr,
    },
}

pub(crate) async fn accept(
    listener: TcpListener,
    events: mpsc::Sender<TcpEvent>,
    max_connections: usize,
    shutdown: CancellationToken,
) {
    let open = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => return,
            accepted = listener.accept() => accepted,
        };
        let Ok((stream, peer_addr)) = accepted else {
            continue;
        };
        if open.load(std::sync::atomic::Ordering::Relaxed) >= max_connections {
            tracing::warn!(%peer_addr, "too many ICE-TCP connections; refusing one");
            continue;
        }
        let _ = stream.set_nodelay(true);
        open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let open = open.clone();
        let events = events.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            serve(stream, peer_addr, events, shutdown).await;
            open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        });
    }
}

async fn serve(
    stream: TcpStream,
    peer_addr: SocketAddr,
    events: mpsc::Sender<TcpEvent>,
    shutdown: CancellationToken,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (writer_tx, mut writer_rx) = mpsc::channel::<Vec<u8>>(WRITE_QUEUE);
    if events
        .send(TcpEvent::Opened {
            peer_addr,
            writer: writer_tx,
        })
        .await
        .is_err()
    {
        return;
    }
    let write = async move {
        while let Some(packet) = writer_rx.recv().await {
            if writer.write_all(&frame_packet(&packet)).await.is_err() {
                return;
            }
        }
    };
    let read = async {
        let mut decoder = TcpFrameDecoder::new();
        let mut buffer = vec![0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n_bytes) => {
                    decoder.extend_from_slice(&buffer[..n_bytes]);
                    while let Some(packet) = decoder.next_packet() {
                        if events
                            .send(TcpEvent::Packet { peer_addr, packet })
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
        }
    };
    tokio::select! {
        () = shutdown.cancelled() => {}
        () = write => {}
        () = read => {}
    }
    let _ = events.send(TcpEvent::Closed { peer_addr }).await;
}
