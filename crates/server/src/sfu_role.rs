//! `convene sfu`: a media node. It serves meetings' media on one UDP socket, the gateways'
//! control API plus `/healthz`, `/readyz` and `/metrics` on HTTP, and keeps its record in the
//! SFU registry fresh. On SIGTERM it drains: it takes no new meetings and stops when its
//! meetings have ended (or the drain timeout passes), so an SRE can remove a pod without
//! cutting a meeting. The operator can also ask a named node to drain through the registry
//! (and to return to service); the node reads that at each heartbeat.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use chrono::Utc;
use convene_bus::{Bus, HEARTBEAT_INTERVAL, NodeState, SfuNodeRecord};
use convene_gateway::meetings::node_control::{self, NodeControl};
use convene_sfu::SfuNode;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::wiring::{open_bus, wait_for_signal};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let bus = open_bus(&config)?;
    let node_shutdown = CancellationToken::new();
    let node = SfuNode::start(config.sfu_config(), node_shutdown.clone())
        .await
        .context("CONVENE_SFU_UDP_ADDR: starting the SFU")?;
    let draining = Arc::new(AtomicBool::new(false));
    let stopping = Arc::new(AtomicBool::new(false));
    let secret = config
        .sfu_control_secret
        .as_ref()
        .map(|secret| Arc::<str>::from(secret.expose()));
    let control = NodeControl {
        node: node.clone(),
        secret,
        draining: draining.clone(),
    };
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(control.clone())
        .merge(node_control::router(control));
    let listener = TcpListener::bind(config.sfu_control_addr)
        .await
        .with_context(|| {
            format!(
                "CONVENE_SFU_CONTROL_ADDR: cannot listen on {}",
                config.sfu_control_addr
            )
        })?;
    let record = SfuNodeRecord {
        id: node.id(),
        name: config.sfu_node_name.clone().unwrap_or_default(),
        control_url: config.sfu_control_url(),
        media_addr: node.media_addr().to_string(),
        state: NodeState::Ready,
        max_rooms: config.sfu_max_rooms as u64,
        max_participants: config.sfu_max_participants as u64,
        rooms: 0,
        participants: 0,
        tracks: 0,
        forwarded_packets_per_second: 0,
        heartbeat_at: Utc::now(),
    };
    tracing::info!(
        node = %node.id(),
        media_addr = %node.media_addr(),
        control = %record.control_url,
        "sfu node listening"
    );
    let registry_stop = CancellationToken::new();
    let registry = tokio::spawn(keep_registered(
        bus.clone(),
        node.clone(),
        record,
        Drain {
            draining: draining.clone(),
            stopping: stopping.clone(),
        },
        registry_stop.clone(),
    ));
    let http_stop = CancellationToken::new();
    let server = tokio::spawn({
        let http_stop = http_stop.clone();
        async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { http_stop.cancelled().await })
                .await
        }
    });

    wait_for_signal().await;
    stopping.store(true, Ordering::SeqCst);
    draining.store(true, Ordering::SeqCst);
    let drain_deadline =
        tokio::time::Instant::now() + Duration::from_secs(config.sfu_drain_timeout_seconds);
    tracing::info!(
        participants = node.load().participants,
        "draining: no new meetings; waiting for meetings to end"
    );
    loop {
        if node.load().participants == 0 {
            break;
        }
        if tokio::time::Instant::now() >= drain_deadline {
            tracing::warn!(
                participants = node.load().participants,
                "drain timeout: stopping with meetings still running"
            );
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(Duration::from_millis(500)) => {}
            // A second signal stops at once.
            () = wait_for_signal() => break,
        }
    }
    registry_stop.cancel();
    let _ = registry.await;
    if let Err(error) = bus.sfu_deregister(node.id()).await {
        tracing::warn!(%error, "leaving the SFU registry failed; the record expires by itself");
    }
    node_shutdown.cancel();
    http_stop.cancel();
    let _ = tokio::time::timeout(Duration::from_secs(5), server).await;
    bus.close().await;
    tracing::info!("sfu node stopped");
    Ok(())
}

async fn ready(State(control): State<NodeControl>) -> impl IntoResponse {
    if control.draining.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else {
        (StatusCode::OK, "ready")
    }
}

async fn metrics(State(control): State<NodeControl>) -> impl IntoResponse {
    let load = control.node.load();
    let draining = u8::from(control.draining.load(Ordering::SeqCst));
    let body = format!(
        "# HELP convene_sfu_rooms Meetings hosted now.\n# TYPE convene_sfu_rooms gauge\nconvene_sfu_rooms {}\n\
         # HELP convene_sfu_participants Participants connected now.\n# TYPE convene_sfu_participants gauge\nconvene_sfu_participants {}\n\
         # HELP convene_sfu_tracks Published tracks now.\n# TYPE convene_sfu_tracks gauge\nconvene_sfu_tracks {}\n\
         # HELP convene_sfu_forwarded_packets_total RTP packets sent to subscribers.\n# TYPE convene_sfu_forwarded_packets_total counter\nconvene_sfu_forwarded_packets_total {}\n\
         # HELP convene_sfu_received_packets_total RTP packets received from publishers.\n# TYPE convene_sfu_received_packets_total counter\nconvene_sfu_received_packets_total {}\n\
         # HELP convene_sfu_bandwidth_reports_total Subscribers' downlink estimates (REMB) received.\n# TYPE convene_sfu_bandwidth_reports_total counter\nconvene_sfu_bandwidth_reports_total {}\n\
         # HELP convene_sfu_draining 1 while the node takes no new meetings.\n# TYPE convene_sfu_draining gauge\nconvene_sfu_draining {draining}\n",
        load.rooms,
        load.participants,
        load.tracks,
        load.forwarded_packets,
        load.received_packets,
        load.bandwidth_reports
    );
    ([("content-type", "text/plain; version=0.0.4")], body)
}

/// Why a node takes no new meetings.
pub struct Drain {
    /// What the control API and `/readyz` read: the node takes no new meetings.
    pub draining: Arc<AtomicBool>,
    /// The process is shutting down (SIGTERM): draining for good, whatever the operator says.
    pub stopping: Arc<AtomicBool>,
}

/// Heartbeats the node's record with its load, follows the operator's drain requests (for
/// a node with a name), and releases the claims of rooms that closed, until stopped.
pub async fn keep_registered(
    bus: Arc<dyn Bus>,
    node: SfuNode,
    mut record: SfuNodeRecord,
    drain: Drain,
    stop: CancellationToken,
) {
    let mut drain_requested = false;
    let mut closed_rooms = node.take_closed_rooms();
    let mut interval = tokio::time::interval(HEARTBEAT_INTERVAL);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_forwarded = (node.load().forwarded_packets, tokio::time::Instant::now());
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            room = async {
                match closed_rooms.as_mut() {
                    Some(receiver) => receiver.recv().await,
                    None => std::future::pending().await,
                }
            } => {
                if let Some(room) = room
                    && let Err(error) = bus.sfu_release_room(&room, node.id()).await
                {
                    tracing::warn!(%error, room, "releasing a closed room's claim failed");
                }
            }
            _ = interval.tick() => {
                let load = node.load();
                let now = tokio::time::Instant::now();
                let elapsed = now.duration_since(last_forwarded.1).as_secs_f64().max(0.001);
                record.forwarded_packets_per_second =
                    (load.forwarded_packets.saturating_sub(last_forwarded.0) as f64 / elapsed) as u64;
                last_forwarded = (load.forwarded_packets, now);
                record.rooms = load.rooms;
                record.participants = load.participants;
                record.tracks = load.tracks;
                if !record.name.is_empty() {
                    // While Redis is away the last answer stands.
                    match bus.sfu_drain_requested(&record.name).await {
                        Ok(requested) if requested != drain_requested => {
                            drain_requested = requested;
                            tracing::info!(
                                drain = requested,
                                participants = load.participants,
                                "{}",
                                if requested { "drain requested: no new meetings" } else { "drain withdrawn: back in service" }
                            );
                        }
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "reading the drain request failed"),
                    }
                }
                let draining = drain_requested || drain.stopping.load(Ordering::SeqCst);
                drain.draining.store(draining, Ordering::SeqCst);
                record.state = if draining { NodeState::Draining } else { NodeState::Ready };
                record.heartbeat_at = Utc::now();
                if let Err(error) = bus.sfu_heartbeat(&record).await {
                    tracing::warn!(%error, "SFU registry heartbeat failed");
                }
            }
        }
    }
}
