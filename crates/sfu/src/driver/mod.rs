//! The IO side of the SFU: one task owns one UDP socket, every peer connection (webrtc-rs's
//! sans-IO `rtc`), every room's forwarding core, and all their timers.
//!
//! Datagrams are routed to a peer connection by the ICE username fragment of STUN binding
//! requests (each connection has its own ufrag) and, once a peer's address is known, by
//! remote address. ICE-lite: the SFU only answers checks, so it needs no candidates from
//! browsers, and its only candidate is the advertised address from configuration.
//!
//! Each participant has two peer connections, like LiveKit's: *publish* (the browser offers
//! its microphone, camera and screen; the SFU answers) and *subscribe* (the SFU offers the
//! other participants' tracks, re-offering whenever they change; the browser answers). Each
//! side of each connection only ever offers, so renegotiation never collides.

mod node;
mod peer;
mod tcp;
mod wire;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

pub use crate::forwarding::TrackSource;
use crate::{Error, Result};

/// How a node listens and how much it takes.
#[derive(Debug, Clone)]
pub struct SfuConfig {
    /// The one UDP socket for all media.
    pub udp_bind_addr: SocketAddr,
    /// The address browsers send media to (the only ICE candidate); defaults to the bound
    /// address, and must be set when binding a wildcard address.
    pub advertised_addr: Option<SocketAddr>,
    /// Optional ICE over TCP on one port, for browsers behind UDP-blocking firewalls; its
    /// candidate is the advertised IP with this port.
    pub tcp_bind_addr: Option<SocketAddr>,
    pub max_rooms: usize,
    pub max_participants: usize,
}

/// A running SFU node. Cheap to clone; the node stops when its cancellation token fires.
#[derive(Clone)]
pub struct SfuNode {
    id: Uuid,
    commands: mpsc::Sender<node::Command>,
    closed_rooms: Arc<std::sync::Mutex<Option<mpsc::UnboundedReceiver<String>>>>,
    media_addr: SocketAddr,
    load: Arc<LoadCounters>,
}

/// What the node carries now, for the registry and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SfuLoad {
    pub rooms: u64,
    pub participants: u64,
    pub tracks: u64,
    /// Packets sent to subscribers since start (a counter; the registry derives a rate).
    pub forwarded_packets: u64,
    pub received_packets: u64,
    /// Subscribers' downlink estimates (REMB) received since start.
    pub bandwidth_reports: u64,
}

#[derive(Debug, Default)]
pub(crate) struct LoadCounters {
    pub(crate) rooms: AtomicU64,
    pub(crate) participants: AtomicU64,
    pub(crate) tracks: AtomicU64,
    pub(crate) forwarded_packets: AtomicU64,
    pub(crate) received_packets: AtomicU64,
    pub(crate) bandwidth_reports: AtomicU64,
}

/// Who joins a room.
#[derive(Debug, Clone)]
pub struct JoinRequest {
    pub room: String,
    pub user_id: Uuid,
    pub display_name: String,
    /// May control the meeting (mute, remove, admit, lock, end); never knocks.
    pub host: bool,
    /// Guests knock: they wait in the lobby until a host lets them in.
    pub guest: bool,
}

/// One participant's presence in a room, until it is dropped or sends `Leave`.
pub struct SfuSession {
    pub id: Uuid,
    /// False while knocking; `SessionEvent::Admitted` follows when a host lets them in.
    pub admitted: bool,
    commands: mpsc::Sender<node::Command>,
    pub events: mpsc::Receiver<SessionEvent>,
}

/// A track the browser publishes, named by its transceiver's `mid`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PublishedSource {
    pub mid: String,
    pub source: TrackSource,
    /// Simulcast layers (rids `q`, `h`, `f`, lowest first), or 1.
    pub layers: u8,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ParticipantState {
    pub audio_muted: bool,
    pub video_muted: bool,
    pub hand_raised: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionCommand {
    /// The publish connection's (re-)offer and the tracks it carries.
    PublishOffer {
        sdp: String,
        sources: Vec<PublishedSource>,
    },
    /// The answer to the last `SubscribeOffer`.
    SubscribeAnswer {
        sdp: String,
    },
    /// How the browser shows another participant's camera or screen (`stream_id`).
    Preference {
        stream_id: String,
        visible: bool,
        max_layer: u8,
    },
    State(ParticipantState),
    Reaction {
        emoji: String,
    },
    /// Refused unless the session is a host's.
    Host {
        action: HostAction,
    },
    Leave,
}

/// What a host does to the room or to someone in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostAction {
    Mute { session_id: Uuid },
    Remove { session_id: Uuid },
    Admit { session_id: Uuid },
    Deny { session_id: Uuid },
    Lock { locked: bool },
    EndForAll,
}

/// Someone knocking.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WaitingEntry {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
}

/// A stream a participant publishes, as subscribers see it: the `MediaStream.id` of the
/// tracks they receive. Microphone and camera share `<session id>`; a screen share is
/// `<session id>~screen`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RosterStream {
    pub stream_id: String,
    pub source: TrackSource,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RosterEntry {
    pub session_id: Uuid,
    pub user_id: Uuid,
    pub display_name: String,
    pub state: ParticipantState,
    pub host: bool,
    pub streams: Vec<RosterStream>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SessionEvent {
    PublishAnswer {
        sdp: String,
    },
    SubscribeOffer {
        sdp: String,
    },
    /// Everyone in the room, in joining order, after any change; hosts also see who knocks.
    Roster {
        participants: Vec<RosterEntry>,
        waiting: Vec<WaitingEntry>,
        locked: bool,
    },
    /// A host let this knocking session in: publish now.
    Admitted,
    /// A host muted this participant's microphone.
    MutedByHost,
    ActiveSpeakers {
        dominant: Option<Uuid>,
        speaking: Vec<Uuid>,
    },
    Reaction {
        session_id: Uuid,
        emoji: String,
    },
    /// The session is over. `rejoin`: the participant did not choose this (media failed,
    /// the node is going away) and should join again, landing on a live node.
    Closed {
        reason: String,
        rejoin: bool,
    },
}

impl SfuNode {
    /// Binds the socket and starts the node's task.
    pub async fn start(config: SfuConfig, shutdown: CancellationToken) -> Result<Self> {
        let socket = tokio::net::UdpSocket::bind(config.udp_bind_addr)
            .await
            .map_err(|source| Error::Bind {
                addr: config.udp_bind_addr,
                source,
            })?;
        let bound = socket.local_addr().map_err(|source| Error::Bind {
            addr: config.udp_bind_addr,
            source,
        })?;
        let media_addr = match config.advertised_addr {
            Some(addr) => addr,
            None if bound.ip().is_unspecified() => {
                return Err(Error::AdvertisedAddressRequired(bound));
            }
            None => bound,
        };
        let tcp = match config.tcp_bind_addr {
            Some(tcp_bind_addr) => {
                let listener =
                    tokio::net::TcpListener::bind(tcp_bind_addr)
                        .await
                        .map_err(|source| Error::Bind {
                            addr: tcp_bind_addr,
                            source,
                        })?;
                let port = listener
                    .local_addr()
                    .map_err(|source| Error::Bind {
                        addr: tcp_bind_addr,
                        source,
                    })?
                    .port();
                let (events_tx, events) = mpsc::channel(4096);
                tokio::spawn(tcp::accept(
                    listener,
                    events_tx,
                    config.max_participants * 4,
                    shutdown.clone(),
                ));
                Some(node::TcpMedia::new(
                    SocketAddr::new(media_addr.ip(), port),
                    events,
                ))
            }
            None => None,
        };
        let tcp_addr = tcp.as_ref().map(|tcp| tcp.advertised_addr);
        let (commands, command_rx) = mpsc::channel(1024);
        let (closed_rooms_tx, closed_rooms) = mpsc::unbounded_channel();
        let load = Arc::new(LoadCounters::default());
        let node = node::Node::new(
            socket,
            media_addr,
            tcp,
            config,
            load.clone(),
            closed_rooms_tx,
        );
        tokio::spawn(node.run(command_rx, shutdown));
        tracing::info!(%media_addr, ?tcp_addr, "sfu node started");
        Ok(Self {
            id: Uuid::new_v4(),
            commands,
            closed_rooms: Arc::new(std::sync::Mutex::new(Some(closed_rooms))),
            media_addr,
            load,
        })
    }

    /// This node's id in the SFU registry.
    pub fn id(&self) -> Uuid {
        self.id
    }

    /// The names of rooms that closed (their last participant left), so that the host can
    /// release their placement claims. Returns the receiver once.
    pub fn take_closed_rooms(&self) -> Option<mpsc::UnboundedReceiver<String>> {
        self.closed_rooms
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    pub fn media_addr(&self) -> SocketAddr {
        self.media_addr
    }

    pub fn load(&self) -> SfuLoad {
        SfuLoad {
            rooms: self.load.rooms.load(Ordering::Relaxed),
            participants: self.load.participants.load(Ordering::Relaxed),
            tracks: self.load.tracks.load(Ordering::Relaxed),
            forwarded_packets: self.load.forwarded_packets.load(Ordering::Relaxed),
            received_packets: self.load.received_packets.load(Ordering::Relaxed),
            bandwidth_reports: self.load.bandwidth_reports.load(Ordering::Relaxed),
        }
    }

    pub async fn join(&self, request: JoinRequest) -> Result<SfuSession> {
        let (reply, reply_rx) = oneshot::channel();
        let (events_tx, events) = mpsc::channel(256);
        self.commands
            .send(node::Command::Join {
                request,
                events: events_tx,
                reply,
            })
            .await
            .map_err(|_| Error::Stopped)?;
        let (id, admitted) = reply_rx.await.map_err(|_| Error::Stopped)??;
        Ok(SfuSession {
            id,
            admitted,
            commands: self.commands.clone(),
            events,
        })
    }
}

impl SfuSession {
    pub async fn send(&self, command: SessionCommand) -> Result<()> {
        self.commands
            .send(node::Command::Session {
                session: self.id,
                command,
            })
            .await
            .map_err(|_| Error::Stopped)
    }

    /// A sender for this session's commands that outlives a borrow of the session, for a
    /// task that reads `events` while another sends.
    pub fn commands(&self) -> SessionCommands {
        SessionCommands {
            id: self.id,
            commands: self.commands.clone(),
        }
    }
}

#[derive(Clone)]
pub struct SessionCommands {
    id: Uuid,
    commands: mpsc::Sender<node::Command>,
}

impl SessionCommands {
    pub async fn send(&self, command: SessionCommand) -> Result<()> {
        self.commands
            .send(node::Command::Session {
                session: self.id,
                command,
            })
            .await
            .map_err(|_| Error::Stopped)
    }
}

impl Drop for SfuSession {
    fn drop(&mut self) {
        // A gateway connection that ends without `Leave` must not leave a ghost tile.
        let _ = self.commands.try_send(node::Command::Session {
            session: self.id,
            command: SessionCommand::Leave,
        });
    }
}
