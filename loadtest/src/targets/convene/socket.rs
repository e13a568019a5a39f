//! One Convene WebSocket after `ready`: the driver task that owns it, and what each server
//! frame means to a scenario.

use std::time::Duration;

use convene_proto::{ClientFrame, EventKindView, EventView, ResumeCursor, ServerFrame};
use futures::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

use crate::targets::{ChatMessage, Incoming, Outgoing};

/// The `request_id` of gap-repair fetches (sends use their client id).
const FETCH_REQUEST_ID: &str = "fetch";

pub(super) type WebSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Owns one socket: writes what the scenario asks, reports what the server says, and keeps
/// the connection alive with a `ping` at half the server's heartbeat interval.
pub(super) async fn drive(
    websocket: WebSocket,
    mut outgoing: mpsc::Receiver<Outgoing>,
    incoming: mpsc::Sender<Incoming>,
    heartbeat_interval: Duration,
) {
    let (mut sink, mut stream) = websocket.split();
    let mut heartbeat = tokio::time::interval((heartbeat_interval / 2).max(Duration::from_secs(1)));
    heartbeat.tick().await;
    let closed = loop {
        tokio::select! {
            message = stream.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => {
                        break format!("closed by the server: {frame:?}");
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => break format!("socket error: {error}"),
                    None => break "the socket ended".to_owned(),
                };
                let reports = match serde_json::from_str::<ServerFrame>(&text) {
                    Ok(frame) => translate(frame),
                    Err(error) => vec![Incoming::Error {
                        code: "unparsed_frame".to_owned(),
                        message: error.to_string(),
                    }],
                };
                for report in reports {
                    if incoming.send(report).await.is_err() {
                        return;
                    }
                }
            }
            request = outgoing.recv() => {
                let Some(request) = request else {
                    let _ = sink.close().await;
                    return;
                };
                let frame = match request {
                    Outgoing::Subscribe { cursors } => ClientFrame::Resume {
                        request_id: Some("resume".to_owned()),
                        cursors: cursors
                            .iter()
                            .filter_map(|(conversation_id, seq)| {
                                Some(ResumeCursor {
                                    conversation_id: conversation_id.parse().ok()?,
                                    seq: *seq,
                                })
                            })
                            .collect(),
                    },
                    Outgoing::Send { conversation_id, client_id, text } => {
                        let Ok(conversation_id) = conversation_id.parse::<Uuid>() else {
                            let failed = Incoming::SendFailed {
                                client_id,
                                code: "invalid_conversation_id".to_owned(),
                            };
                            if incoming.send(failed).await.is_err() {
                                return;
                            }
                            continue;
                        };
                        ClientFrame::SendMessage {
                            request_id: Some(client_id.clone()),
                            conversation_id,
                            client_id,
                            body: text,
                            reply_to: None,
                        }
                    }
                    Outgoing::Fetch { conversation_id, after_seq } => {
                        let Ok(conversation_id) = conversation_id.parse::<Uuid>() else {
                            continue;
                        };
                        ClientFrame::FetchEvents {
                            request_id: Some(FETCH_REQUEST_ID.to_owned()),
                            conversation_id,
                            after_seq,
                        }
                    }
                };
                if let Err(error) = write(&mut sink, &frame).await {
                    break error;
                }
            }
            _ = heartbeat.tick() => {
                if let Err(error) = write(&mut sink, &ClientFrame::Ping { request_id: None }).await {
                    break error;
                }
            }
        }
    };
    let _ = incoming.send(Incoming::Closed { reason: closed }).await;
}

async fn write(
    sink: &mut futures::stream::SplitSink<WebSocket, Message>,
    frame: &ClientFrame,
) -> Result<(), String> {
    let text = serde_json::to_string(frame).map_err(|error| error.to_string())?;
    sink.send(Message::text(text))
        .await
        .map_err(|error| format!("socket error: {error}"))
}

fn event_report(event: EventView, via_fetch: bool) -> Incoming {
    let message = match event.change {
        EventKindView::MessageCreated { message } => Some(ChatMessage {
            client_id: message.client_id,
            text: message.body,
        }),
        _ => None,
    };
    Incoming::Event {
        conversation_id: event.conversation_id.to_string(),
        seq: event.seq,
        message,
        via_fetch,
    }
}

/// What a server frame means to a scenario.
fn translate(frame: ServerFrame) -> Vec<Incoming> {
    match frame {
        ServerFrame::Event { event } => vec![event_report(event, false)],
        // `events` only answers `fetch_events` (resume replays as single `event` frames).
        ServerFrame::Events { events, .. } => events
            .into_iter()
            .map(|event| event_report(event, true))
            .collect(),
        ServerFrame::MessageSent {
            client_id,
            duplicate,
            message,
            ..
        } => vec![Incoming::SendAcked {
            client_id,
            seq: message.seq,
            duplicate,
        }],
        ServerFrame::Resumed { .. } => vec![Incoming::Subscribed],
        ServerFrame::ResyncRequired {
            conversation_id, ..
        } => vec![Incoming::ResyncRequired {
            conversation_id: conversation_id.map(|id| id.to_string()),
        }],
        ServerFrame::Error {
            request_id: Some(request_id),
            error,
        } if request_id != "resume" && request_id != FETCH_REQUEST_ID => {
            vec![Incoming::SendFailed {
                client_id: request_id,
                code: error.code,
            }]
        }
        ServerFrame::Error { error, .. } => vec![Incoming::Error {
            code: error.code,
            message: error.message,
        }],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> EventView {
        EventView {
            conversation_id: Uuid::nil(),
            seq,
            actor_id: Uuid::nil(),
            at: chrono::DateTime::UNIX_EPOCH,
            change: EventKindView::MessageDeleted {
                message_id: Uuid::nil(),
            },
        }
    }

    fn via_fetch(report: &Incoming) -> Option<bool> {
        match report {
            Incoming::Event { via_fetch, .. } => Some(*via_fetch),
            _ => None,
        }
    }

    #[test]
    fn only_a_fetch_answer_is_tagged_as_fetched() {
        let pushed = translate(ServerFrame::Event { event: event(4) });
        assert_eq!(
            pushed.iter().map(via_fetch).collect::<Vec<_>>(),
            [Some(false)]
        );
        let fetched = translate(ServerFrame::Events {
            request_id: Some(FETCH_REQUEST_ID.to_owned()),
            conversation_id: Uuid::nil(),
            events: vec![event(2), event(3)],
            complete: true,
        });
        assert_eq!(
            fetched.iter().map(via_fetch).collect::<Vec<_>>(),
            [Some(true), Some(true)]
        );
    }
}
