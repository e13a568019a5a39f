//! The Node.js Socket.IO baseline (`loadtest/baselines/socketio/`), spoken over a raw
//! WebSocket with Engine.IO v4 framing: `0{…}` open, `40{auth}` connect, `42["event",data]`
//! and `42<id>["event",data]` with its ack `43<id>[data]`, ping `2` → pong `3`.
//! The baseline has no accounts: a user is a name in the handshake's `auth`, and a
//! conversation is an id this tool picks.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use super::{
    CONNECT_TIMEOUT, ChatMessage, Connection, ConversationRef, HistoryEntry, INCOMING_CAPACITY,
    Incoming, OUTGOING_CAPACITY, Outgoing, Target, TargetKind, UserAccount,
};
use crate::{Error, Result};

mod packets;

pub use self::packets::{Packet, emit_with_ack, parse_packet};

/// History page size asked of the baseline (it accepts 1–500).
const HISTORY_PAGE: u64 = 500;

pub struct SocketIoTarget {
    base_urls: Vec<String>,
}

impl SocketIoTarget {
    pub fn new(base_urls: Vec<String>) -> Result<Self> {
        Ok(Self { base_urls })
    }

    fn base_url(&self, gateway_index: usize) -> &str {
        &self.base_urls[gateway_index % self.base_urls.len()]
    }
}

type WebSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

#[derive(Debug, Deserialize)]
struct MessageEvent {
    conversation: String,
    seq: i64,
    client_id: String,
    text: String,
}

#[derive(Debug, Deserialize)]
struct AckError {
    code: String,
}

#[derive(Debug, Deserialize)]
struct SendAck {
    #[serde(default)]
    ok: bool,
    seq: Option<i64>,
    error: Option<AckError>,
}

#[derive(Debug, Deserialize)]
struct HistoryAck {
    #[serde(default)]
    messages: Vec<HistoryMessage>,
}

#[derive(Debug, Default, Deserialize)]
struct MessagePage {
    #[serde(default)]
    messages: Vec<MessageEvent>,
}

#[derive(Debug, Deserialize)]
struct HistoryMessage {
    seq: i64,
    #[serde(default)]
    client_id: Option<String>,
}

/// Opens the socket and completes the Engine.IO and Socket.IO handshakes as `user`.
async fn handshake(base_url: &str, username: &str) -> Result<WebSocket> {
    let ws_url = format!(
        "{}/socket.io/?EIO=4&transport=websocket",
        base_url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1)
    );
    let websocket_error = |source| Error::WebSocket {
        url: ws_url.clone(),
        source: Box::new(source),
    };
    let connect = async {
        let (mut websocket, _) = tokio_tungstenite::connect_async(ws_url.as_str())
            .await
            .map_err(websocket_error)?;
        let mut sent_connect = false;
        while let Some(message) = websocket.next().await {
            let Message::Text(text) = message.map_err(websocket_error)? else {
                continue;
            };
            match parse_packet(&text)? {
                Packet::Open if !sent_connect => {
                    sent_connect = true;
                    let auth = format!("40{}", json!({"user": username}));
                    websocket
                        .send(Message::text(auth))
                        .await
                        .map_err(websocket_error)?;
                }
                Packet::Ping => {
                    websocket
                        .send(Message::text("3"))
                        .await
                        .map_err(websocket_error)?;
                }
                Packet::Connected => return Ok(websocket),
                Packet::ConnectRefused(reason) => {
                    return Err(Error::Protocol {
                        peer: ws_url.clone(),
                        detail: format!("connection refused: {reason}"),
                    });
                }
                _ => {}
            }
        }
        Err(Error::ConnectionClosed)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connect)
        .await
        .map_err(|_| Error::Timeout {
            what: format!("the socket.io handshake with {base_url}"),
        })?
}

#[async_trait::async_trait]
impl Target for SocketIoTarget {
    fn kind(&self) -> TargetKind {
        TargetKind::Socketio
    }

    fn base_urls(&self) -> &[String] {
        &self.base_urls
    }

    async fn create_user(&self, run_id: &str, index: usize) -> Result<UserAccount> {
        // No accounts: the baseline takes the name from the handshake.
        let username = format!("{run_id}_u{index}");
        Ok(UserAccount {
            user_id: username.clone(),
            username,
            access_token: None,
            password: None,
        })
    }

    async fn create_conversation(
        &self,
        run_id: &str,
        index: usize,
        _members: &[UserAccount],
    ) -> Result<ConversationRef> {
        // Conversations exist once someone joins; the run id keeps them fresh.
        Ok(ConversationRef {
            conversation_id: format!("{run_id}-c{index}"),
            base_seq: 0,
        })
    }

    async fn connect(&self, user: &UserAccount, gateway_index: usize) -> Result<Connection> {
        let started = Instant::now();
        let websocket = handshake(self.base_url(gateway_index), &user.username).await?;
        let connect_latency = started.elapsed();
        let (outgoing_tx, outgoing_rx) = mpsc::channel(OUTGOING_CAPACITY);
        let (incoming_tx, incoming_rx) = mpsc::channel(INCOMING_CAPACITY);
        let driver = tokio::spawn(drive(websocket, outgoing_rx, incoming_tx));
        Ok(Connection::new(
            outgoing_tx,
            incoming_rx,
            connect_latency,
            driver,
        ))
    }

    async fn history(
        &self,
        user: &UserAccount,
        conversation: &ConversationRef,
        after_seq: i64,
    ) -> Result<Vec<HistoryEntry>> {
        let mut websocket = handshake(self.base_url(0), &user.username).await?;
        let mut seqs = Vec::new();
        let mut after_seq = after_seq;
        let mut next_id = 1;
        loop {
            let request = emit_with_ack(
                next_id,
                "history",
                &json!({
                    "conversation": conversation.conversation_id,
                    "after_seq": after_seq,
                    "limit": HISTORY_PAGE,
                }),
            );
            websocket
                .send(Message::text(request))
                .await
                .map_err(|source| Error::WebSocket {
                    url: self.base_url(0).to_owned(),
                    source: Box::new(source),
                })?;
            let page = tokio::time::timeout(Duration::from_secs(30), async {
                while let Some(message) = websocket.next().await {
                    let Ok(Message::Text(text)) = message else {
                        continue;
                    };
                    match parse_packet(&text)? {
                        Packet::Ack { id, data } if id == next_id => {
                            return Ok(serde_json::from_value::<HistoryAck>(data)?);
                        }
                        Packet::Ping => {
                            let _ = websocket.send(Message::text("3")).await;
                        }
                        _ => {}
                    }
                }
                Err(Error::ConnectionClosed)
            })
            .await
            .map_err(|_| Error::Timeout {
                what: "a history answer from the baseline".to_owned(),
            })??;
            next_id += 1;
            let count = page.messages.len() as u64;
            seqs.extend(page.messages.iter().map(|message| HistoryEntry {
                seq: message.seq,
                client_id: message.client_id.clone(),
            }));
            match page.messages.last() {
                Some(last) if count >= HISTORY_PAGE => after_seq = last.seq,
                _ => break,
            }
        }
        let _ = websocket.close(None).await;
        Ok(seqs)
    }
}

/// What an outstanding ack id was asked for.
enum PendingAck {
    Join,
    History,
    Send { client_id: String },
}

async fn drive(
    websocket: WebSocket,
    mut outgoing: mpsc::Receiver<Outgoing>,
    incoming: mpsc::Sender<Incoming>,
) {
    let (mut sink, mut stream) = websocket.split();
    let mut pending: HashMap<u64, PendingAck> = HashMap::new();
    let mut joins_outstanding = 0usize;
    let mut next_id: u64 = 1;
    let closed = loop {
        tokio::select! {
            message = stream.next() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(frame))) => break format!("closed by the server: {frame:?}"),
                    Some(Ok(_)) => continue,
                    Some(Err(error)) => break format!("socket error: {error}"),
                    None => break "the socket ended".to_owned(),
                };
                let report = match parse_packet(&text) {
                    Ok(Packet::Ping) => {
                        if let Err(error) = sink.send(Message::text("3")).await {
                            break format!("socket error: {error}");
                        }
                        None
                    }
                    Ok(Packet::Disconnect) => break "disconnected by the server".to_owned(),
                    Ok(Packet::Event { name, data }) if name == "message" => {
                        match serde_json::from_value::<MessageEvent>(data) {
                            Ok(event) => Some(Incoming::Event {
                                conversation_id: event.conversation,
                                seq: event.seq,
                                message: Some(ChatMessage {
                                    client_id: event.client_id,
                                    text: event.text,
                                }),
                                via_fetch: false,
                            }),
                            Err(error) => Some(Incoming::Error {
                                code: "unparsed_message".to_owned(),
                                message: error.to_string(),
                            }),
                        }
                    }
                    Ok(Packet::Ack { id, data }) => match pending.remove(&id) {
                        Some(PendingAck::Join) => {
                            joins_outstanding = joins_outstanding.saturating_sub(1);
                            let ok = data.get("ok").and_then(Value::as_bool) == Some(true);
                            if !ok {
                                Some(Incoming::Error {
                                    code: "join_failed".to_owned(),
                                    message: data.to_string(),
                                })
                            } else if joins_outstanding == 0 {
                                Some(Incoming::Subscribed)
                            } else {
                                None
                            }
                        }
                        Some(PendingAck::Send { client_id }) => {
                            Some(match serde_json::from_value::<SendAck>(data) {
                                Ok(SendAck { ok: true, seq: Some(seq), .. }) => {
                                    Incoming::SendAcked { client_id, seq, duplicate: false }
                                }
                                Ok(ack) => Incoming::SendFailed {
                                    client_id,
                                    code: ack.error.map_or_else(|| "unknown".to_owned(), |error| error.code),
                                },
                                Err(_) => Incoming::SendFailed {
                                    client_id,
                                    code: "unparsed_ack".to_owned(),
                                },
                            })
                        }
                        Some(PendingAck::History) => {
                            let page = serde_json::from_value::<MessagePage>(data).unwrap_or_default();
                            let mut closed = false;
                            for event in page.messages {
                                let report = Incoming::Event {
                                    conversation_id: event.conversation,
                                    seq: event.seq,
                                    message: Some(ChatMessage { client_id: event.client_id, text: event.text }),
                                    via_fetch: true,
                                };
                                if incoming.send(report).await.is_err() {
                                    closed = true;
                                    break;
                                }
                            }
                            if closed {
                                return;
                            }
                            None
                        }
                        None => None,
                    },
                    Ok(_) => None,
                    Err(error) => Some(Incoming::Error {
                        code: "unparsed_frame".to_owned(),
                        message: error.to_string(),
                    }),
                };
                if let Some(report) = report
                    && incoming.send(report).await.is_err()
                {
                    return;
                }
            }
            request = outgoing.recv() => {
                let Some(request) = request else {
                    let _ = sink.close().await;
                    return;
                };
                let mut frames = Vec::new();
                match request {
                    Outgoing::Subscribe { cursors } => {
                        if cursors.is_empty() && incoming.send(Incoming::Subscribed).await.is_err() {
                            return;
                        }
                        for (conversation_id, _) in cursors {
                            let id = next_id;
                            next_id += 1;
                            pending.insert(id, PendingAck::Join);
                            joins_outstanding += 1;
                            frames.push(emit_with_ack(id, "join", &json!({"conversation": conversation_id})));
                        }
                    }
                    Outgoing::Send { conversation_id, client_id, text } => {
                        let id = next_id;
                        next_id += 1;
                        let sent_at_ms = chrono::Utc::now().timestamp_millis();
                        frames.push(emit_with_ack(id, "send", &json!({
                            "conversation": conversation_id,
                            "client_id": client_id,
                            "text": text,
                            "sent_at_ms": sent_at_ms,
                        })));
                        pending.insert(id, PendingAck::Send { client_id });
                    }
                    Outgoing::Fetch { conversation_id, after_seq } => {
                        let id = next_id;
                        next_id += 1;
                        pending.insert(id, PendingAck::History);
                        frames.push(emit_with_ack(id, "history", &json!({
                            "conversation": conversation_id,
                            "after_seq": after_seq,
                            "limit": HISTORY_PAGE,
                        })));
                    }
                }
                let mut failed = None;
                for frame in frames {
                    if let Err(error) = sink.send(Message::text(frame)).await {
                        failed = Some(format!("socket error: {error}"));
                        break;
                    }
                }
                if let Some(error) = failed {
                    break error;
                }
            }
        }
    };
    let _ = incoming.send(Incoming::Closed { reason: closed }).await;
}
