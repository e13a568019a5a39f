//! The SFU node's side of the internal control API (`convene sfu`): gateways open one
//! WebSocket per participant session and relay the browser's negotiation over it.
//!
//! `GET /internal/v1/rooms/{room}/sessions?user_id=…&display_name=…` with
//! `Authorization: Bearer <CONVENE_SFU_CONTROL_SECRET>`, upgraded to a WebSocket. The node
//! answers `joined` (or `refused` when full or draining), then `event`s; the gateway sends
//! `SessionCommand`s. Closing the socket leaves the room. Never exposed to browsers.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use convene_sfu::{JoinRequest, SessionCommand, SfuNode};
use futures::StreamExt;
use serde::Deserialize;
use uuid::Uuid;

use super::media::ControlFrame;

#[derive(Clone)]
pub struct NodeControl {
    pub node: SfuNode,
    /// Without a secret every request is refused: the API must never be open by accident.
    pub secret: Option<Arc<str>>,
    pub draining: Arc<AtomicBool>,
}

#[derive(Debug, Deserialize)]
struct JoinQuery {
    user_id: Uuid,
    display_name: String,
    /// Trusted: only a gateway holding the control secret gets here, and it checked the
    /// user's role in the conversation.
    #[serde(default)]
    host: bool,
    #[serde(default)]
    guest: bool,
}

pub fn router(control: NodeControl) -> Router {
    Router::new()
        .route("/internal/v1/rooms/{room}/sessions", get(open_session))
        .with_state(control)
}

fn authorized(control: &NodeControl, headers: &HeaderMap) -> bool {
    let Some(secret) = &control.secret else {
        return false;
    };
    let presented = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or("");
    constant_time_eq(presented.as_bytes(), secret.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn open_session(
    State(control): State<NodeControl>,
    Path(room): Path<String>,
    Query(query): Query<JoinQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    if !authorized(&control, &headers) {
        return (StatusCode::UNAUTHORIZED, "control secret required").into_response();
    }
    if room.is_empty() || room.len() > 64 || query.display_name.chars().count() > 100 {
        return (StatusCode::BAD_REQUEST, "invalid room or name").into_response();
    }
    let request = JoinRequest {
        room,
        user_id: query.user_id,
        display_name: query.display_name,
        host: query.host,
        guest: query.guest,
    };
    upgrade.on_upgrade(move |socket| serve_session(control, socket, request))
}

async fn send(socket: &mut WebSocket, frame: &ControlFrame) -> bool {
    let json = serde_json::to_string(frame).unwrap_or_default();
    socket.send(Message::Text(json.into())).await.is_ok()
}

async fn serve_session(control: NodeControl, mut socket: WebSocket, request: JoinRequest) {
    if control.draining.load(Ordering::SeqCst) {
        let _ = send(
            &mut socket,
            &ControlFrame::Refused {
                reason: "draining".to_owned(),
            },
        )
        .await;
        return;
    }
    let mut session = match control.node.join(request).await {
        Ok(session) => session,
        Err(error) => {
            let _ = send(
                &mut socket,
                &ControlFrame::Refused {
                    reason: error.to_string(),
                },
            )
            .await;
            return;
        }
    };
    if !send(
        &mut socket,
        &ControlFrame::Joined {
            session_id: session.id,
            admitted: session.admitted,
        },
    )
    .await
    {
        return;
    }
    loop {
        tokio::select! {
            incoming = socket.next() => match incoming {
                Some(Ok(Message::Text(text))) => match serde_json::from_str::<SessionCommand>(&text) {
                    Ok(command) => {
                        if session.send(command).await.is_err() {
                            return;
                        }
                    }
                    Err(error) => tracing::debug!(%error, "invalid control command"),
                },
                Some(Ok(_)) => {}
                // The gateway went away: dropping the session leaves the room.
                Some(Err(_)) | None => return,
            },
            event = session.events.recv() => match event {
                Some(event) => {
                    let closed = matches!(event, convene_sfu::SessionEvent::Closed { .. });
                    if !send(&mut socket, &ControlFrame::Event { event }).await || closed {
                        return;
                    }
                }
                None => return,
            },
        }
    }
}
