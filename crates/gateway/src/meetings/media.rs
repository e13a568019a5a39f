//! Where a meeting's media lives, and the gateway's line to it.
//!
//! A room is placed by an atomic claim in the bus's SFU registry (the pool's policy:
//! packed or distributed), so every gateway puts a meeting's participants on the same node.
//! The node is this process's own in-process SFU (`convene serve`) or another process's,
//! reached over the internal control API: one WebSocket per participant session at
//! `/internal/v1/rooms/{room}/sessions`, authenticated with the shared control secret,
//! carrying `SessionCommand`s one way and `SessionEvent`s the other (docs/meetings.md).
//! A node that cannot be reached is excluded and the room is claimed again elsewhere.

use std::time::Duration;

use convene_bus::PlacementPolicy;
use convene_sfu::{JoinRequest, SessionCommand, SessionEvent, SfuNode, SfuSession};
use futures::{SinkExt, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

use crate::state::AppState;

/// Claims retried after unreachable nodes before giving up.
const PLACEMENT_ATTEMPTS: usize = 3;
/// A node that does not accept the control connection this fast is treated as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How meetings find their media: the in-process node (if any), the placement policy, and
/// the secret of the internal control API.
#[derive(Clone, Default)]
pub struct MediaPlacement {
    pub local: Option<SfuNode>,
    pub policy: PlacementPolicy,
    pub control_secret: Option<String>,
}

/// What a node sends on a control connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ControlFrame {
    /// First frame: the participant is in the room (or, `admitted: false`, knocking).
    Joined {
        session_id: Uuid,
        admitted: bool,
    },
    Event {
        event: SessionEvent,
    },
    /// The join was refused (the node is full or draining).
    Refused {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    #[error("no media server can take this meeting")]
    NoNode,
    #[error("the media server is full")]
    Full,
}

/// One participant session on some node; dropping it leaves the room.
pub struct MediaSession {
    pub session_id: Uuid,
    pub admitted: bool,
    pub commands: mpsc::Sender<SessionCommand>,
    pub events: mpsc::Receiver<SessionEvent>,
    pump: JoinHandle<()>,
}

impl Drop for MediaSession {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

pub async fn open_session(
    state: &AppState,
    room: &str,
    request: JoinRequest,
) -> Result<MediaSession, MediaError> {
    let placement = &state.media;
    let mut exclude = Vec::new();
    for _ in 0..PLACEMENT_ATTEMPTS {
        let claimed = state
            .bus
            .sfu_claim_room(room, placement.policy, &exclude, state.clock.now())
            .await;
        let node = match claimed {
            Ok(Some(node)) => node,
            // No registered node (the embedded default before its first heartbeat), or the
            // bus is away: the in-process node, when there is one, still serves.
            Ok(None) | Err(_) => match &placement.local {
                Some(local) if !exclude.contains(&local.id()) => {
                    return local_session(local, request).await;
                }
                _ => return Err(MediaError::NoNode),
            },
        };
        if let Some(local) = placement
            .local
            .as_ref()
            .filter(|local| local.id() == node.id)
        {
            return local_session(local, request).await;
        }
        match remote_session(
            &node.control_url,
            placement.control_secret.as_deref(),
            room,
            &request,
        )
        .await
        {
            Ok(session) => return Ok(session),
            Err(RemoteError::Refused(reason)) => {
                tracing::info!(node = %node.id, reason, "media node refused the room");
                exclude.push(node.id);
            }
            Err(RemoteError::Unreachable(error)) => {
                tracing::warn!(node = %node.id, error, "media node unreachable; placing the room elsewhere");
                exclude.push(node.id);
            }
        }
    }
    Err(MediaError::NoNode)
}

async fn local_session(node: &SfuNode, request: JoinRequest) -> Result<MediaSession, MediaError> {
    let session = node.join(request).await.map_err(|error| match error {
        convene_sfu::Error::Full(_) => MediaError::Full,
        _ => MediaError::NoNode,
    })?;
    let (session_id, admitted) = (session.id, session.admitted);
    let (commands, command_rx) = mpsc::channel(64);
    let (event_tx, events) = mpsc::channel(256);
    let pump = tokio::spawn(pump_local(session, command_rx, event_tx));
    Ok(MediaSession {
        session_id,
        admitted,
        commands,
        events,
        pump,
    })
}

async fn pump_local(
    mut session: SfuSession,
    mut commands: mpsc::Receiver<SessionCommand>,
    events: mpsc::Sender<SessionEvent>,
) {
    loop {
        tokio::select! {
            command = commands.recv() => match command {
                Some(command) => {
                    if session.send(command).await.is_err() {
                        let _ = events.send(node_gone()).await;
                        return;
                    }
                }
                None => return,
            },
            event = session.events.recv() => match event {
                Some(event) => {
                    if events.send(event).await.is_err() {
                        return;
                    }
                }
                None => {
                    let _ = events.send(node_gone()).await;
                    return;
                }
            },
        }
    }
}

fn node_gone() -> SessionEvent {
    SessionEvent::Closed {
        reason: "the media server went away".to_owned(),
        rejoin: true,
    }
}

enum RemoteError {
    Unreachable(String),
    Refused(String),
}

type ControlSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn remote_session(
    control_url: &str,
    secret: Option<&str>,
    room: &str,
    request: &JoinRequest,
) -> Result<MediaSession, RemoteError> {
    let base = control_url
        .trim_end_matches('/')
        .replacen("http://", "ws://", 1)
        .replacen("https://", "wss://", 1);
    let url = format!(
        "{base}/internal/v1/rooms/{room}/sessions?user_id={}&display_name={}&host={}&guest={}",
        request.user_id,
        percent_encode(&request.display_name),
        request.host,
        request.guest,
    );
    let mut http_request = url
        .into_client_request()
        .map_err(|error| RemoteError::Unreachable(error.to_string()))?;
    if let Some(secret) = secret {
        let value = format!("Bearer {secret}")
            .parse()
            .map_err(|_| RemoteError::Unreachable("invalid control secret".to_owned()))?;
        http_request.headers_mut().insert("authorization", value);
    }
    let (mut socket, _) = tokio::time::timeout(
        CONNECT_TIMEOUT,
        tokio_tungstenite::connect_async(http_request),
    )
    .await
    .map_err(|_| RemoteError::Unreachable("timed out".to_owned()))?
    .map_err(|error| RemoteError::Unreachable(error.to_string()))?;
    let first = tokio::time::timeout(CONNECT_TIMEOUT, socket.next())
        .await
        .map_err(|_| RemoteError::Unreachable("no answer".to_owned()))?;
    let (session_id, admitted) = match first {
        Some(Ok(Message::Text(text))) => match serde_json::from_str::<ControlFrame>(&text) {
            Ok(ControlFrame::Joined {
                session_id,
                admitted,
            }) => (session_id, admitted),
            Ok(ControlFrame::Refused { reason }) => return Err(RemoteError::Refused(reason)),
            _ => {
                return Err(RemoteError::Unreachable(
                    "unexpected first frame".to_owned(),
                ));
            }
        },
        _ => return Err(RemoteError::Unreachable("closed before joining".to_owned())),
    };
    let (commands, command_rx) = mpsc::channel(64);
    let (event_tx, events) = mpsc::channel(256);
    let pump = tokio::spawn(pump_remote(socket, command_rx, event_tx));
    Ok(MediaSession {
        session_id,
        admitted,
        commands,
        events,
        pump,
    })
}

async fn pump_remote(
    mut socket: ControlSocket,
    mut commands: mpsc::Receiver<SessionCommand>,
    events: mpsc::Sender<SessionEvent>,
) {
    loop {
        tokio::select! {
            command = commands.recv() => {
                let Some(command) = command else {
                    let _ = socket.close(None).await;
                    return;
                };
                let json = serde_json::to_string(&command).unwrap_or_default();
                if socket.send(Message::Text(json.into())).await.is_err() {
                    let _ = events.send(node_gone()).await;
                    return;
                }
            }
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => {
                    if let Ok(ControlFrame::Event { event }) = serde_json::from_str(&text) {
                        let closed = matches!(event, SessionEvent::Closed { .. });
                        if events.send(event).await.is_err() || closed {
                            return;
                        }
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(_)) | None => {
                    let _ = events.send(node_gone()).await;
                    return;
                }
            },
        }
    }
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (byte as char).to_string()
            }
            _ => format!("%{byte:02X}"),
        })
        .collect()
}
