//! A WebSocket client of the chat protocol (docs/protocol.md) for tests against the real
//! binary, in the spirit of `crates/gateway/tests/chat/support.rs`, but built for tests where
//! servers die under the client: a reader task takes every frame off the socket as soon as it
//! arrives (so the server never sees a slow client, and WebSocket pings are answered), keeps a
//! history of them, and reports the end of the connection as an event instead of panicking.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::stream::SplitSink;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the reader task saw.
#[derive(Debug, Clone)]
pub enum Incoming {
    Frame(Value),
    /// The connection ended: a close frame (code and reason), an error, or EOF.
    Closed(String),
}

/// Why a connection attempt failed.
#[derive(Debug)]
pub enum ConnectError {
    /// The server answered the handshake with this HTTP status.
    Refused(u16),
    /// No handshake at all (connection refused or reset, timeout…).
    Io(String),
}

/// How long a connection attempt (TCP and handshake) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub struct WsClient {
    sink: SplitSink<Socket, Message>,
    incoming: mpsc::UnboundedReceiver<Incoming>,
    history: Arc<Mutex<Vec<Value>>>,
    reader: JoinHandle<()>,
    closed: Option<String>,
}

impl WsClient {
    /// The handshake alone, with `Authorization: Bearer <token>`.
    pub async fn connect(addr: SocketAddr, token: &str) -> Result<Self, ConnectError> {
        let mut request = format!("ws://{addr}/api/v1/ws")
            .into_client_request()
            .expect("a valid WebSocket URL");
        request.headers_mut().insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).expect("a header-safe token"),
        );
        let socket =
            match tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(request))
                .await
            {
                Ok(Ok((socket, _response))) => socket,
                Ok(Err(WsError::Http(response))) => {
                    return Err(ConnectError::Refused(response.status().as_u16()));
                }
                Ok(Err(other)) => return Err(ConnectError::Io(other.to_string())),
                Err(_) => return Err(ConnectError::Io("handshake timed out".to_owned())),
            };
        let (sink, mut stream) = socket.split();
        let (sender, incoming) = mpsc::unbounded_channel();
        let history = Arc::new(Mutex::new(Vec::new()));
        let reader = tokio::spawn({
            let history = history.clone();
            async move {
                let end = loop {
                    match stream.next().await {
                        Some(Ok(Message::Text(text))) => {
                            let frame: Value =
                                serde_json::from_str(text.as_str()).unwrap_or_else(|error| {
                                    json!({"type": "_unparsable", "error": error.to_string(),
                                           "text": text.as_str()})
                                });
                            history.lock().unwrap().push(frame.clone());
                            let _ = sender.send(Incoming::Frame(frame));
                        }
                        Some(Ok(Message::Close(frame))) => {
                            break match frame {
                                Some(frame) => format!("close {} {:?}", frame.code, frame.reason),
                                None => "close without a frame".to_owned(),
                            };
                        }
                        // Pings are answered by tungstenite itself.
                        Some(Ok(_)) => {}
                        Some(Err(error)) => break format!("error: {error}"),
                        None => break "eof".to_owned(),
                    }
                };
                let _ = sender.send(Incoming::Closed(end));
            }
        });
        Ok(WsClient {
            sink,
            incoming,
            history,
            reader,
            closed: None,
        })
    }

    /// Connects, reads `ready`, sends `resume` with `cursors` (conversation → seq) and
    /// returns once `resumed` arrived, with every frame before it (replayed events,
    /// `conversation_added`, …).
    pub async fn connect_and_resume(
        addr: SocketAddr,
        token: &str,
        cursors: &[(Uuid, i64)],
        timeout: Duration,
    ) -> Result<(Self, Vec<Value>), ConnectError> {
        let mut client = Self::connect(addr, token).await?;
        let deadline = Instant::now() + timeout;
        let ready = client
            .next_until(deadline)
            .await
            .ok_or_else(|| ConnectError::Io("no `ready` frame in time".to_owned()))?;
        match ready {
            Incoming::Frame(frame) if frame["type"] == "ready" => {}
            other => return Err(ConnectError::Io(format!("expected `ready`, got {other:?}"))),
        }
        let cursors: Vec<Value> = cursors
            .iter()
            .map(|(conversation_id, seq)| json!({"conversation_id": conversation_id, "seq": seq}))
            .collect();
        client
            .send(json!({"type": "resume", "request_id": "resume", "cursors": cursors}))
            .await
            .map_err(|error| ConnectError::Io(format!("sending resume: {error}")))?;
        let mut before = Vec::new();
        loop {
            match client.next_until(deadline).await {
                Some(Incoming::Frame(frame)) if frame["type"] == "resumed" => {
                    return Ok((client, before));
                }
                Some(Incoming::Frame(frame)) => before.push(frame),
                Some(Incoming::Closed(reason)) => {
                    return Err(ConnectError::Io(format!(
                        "closed before `resumed`: {reason}"
                    )));
                }
                None => {
                    return Err(ConnectError::Io(format!(
                        "no `resumed` within {timeout:?}; got {before:?}"
                    )));
                }
            }
        }
    }

    pub async fn send(&mut self, frame: Value) -> Result<(), WsError> {
        self.sink
            .send(Message::Text(frame.to_string().into()))
            .await
    }

    /// The next frame or the end of the connection; `None` once `deadline` passed. After the
    /// end, every call answers the same `Closed` at once.
    pub async fn next_until(&mut self, deadline: Instant) -> Option<Incoming> {
        if let Some(reason) = &self.closed {
            return Some(Incoming::Closed(reason.clone()));
        }
        let wait = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, self.incoming.recv()).await {
            Ok(Some(Incoming::Closed(reason))) => {
                self.closed = Some(reason.clone());
                Some(Incoming::Closed(reason))
            }
            Ok(Some(frame)) => Some(frame),
            Ok(None) => {
                let reason = "reader task ended".to_owned();
                self.closed = Some(reason.clone());
                Some(Incoming::Closed(reason))
            }
            Err(_) => None,
        }
    }

    /// Reads frames until one satisfies `matches`, within `timeout`; the frames skipped stay
    /// in the history. Panics (naming `what`) on a timeout or the end of the connection.
    pub async fn recv_where(
        &mut self,
        what: &str,
        timeout: Duration,
        mut matches: impl FnMut(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            match self.next_until(deadline).await {
                Some(Incoming::Frame(frame)) if matches(&frame) => return frame,
                Some(Incoming::Frame(_)) => {}
                Some(Incoming::Closed(reason)) => {
                    panic!("waiting for {what}: the connection ended ({reason})")
                }
                None => panic!(
                    "waiting for {what}: nothing within {timeout:?}; frames so far: {}",
                    self.history_text()
                ),
            }
        }
    }

    /// Every frame received so far, in order (whether or not it was read with `next_until`).
    pub fn history(&self) -> Vec<Value> {
        self.history.lock().unwrap().clone()
    }

    /// The first frame of the history, from index `from` on, that satisfies `matches`.
    pub fn find_in_history(&self, from: usize, matches: impl Fn(&Value) -> bool) -> Option<Value> {
        self.history
            .lock()
            .unwrap()
            .iter()
            .skip(from)
            .find(|frame| matches(frame))
            .cloned()
    }

    pub fn history_len(&self) -> usize {
        self.history.lock().unwrap().len()
    }

    /// Polls the history (from index `from`) until a frame satisfies `matches`, within
    /// `timeout`. Works while another part of the test consumes the frames.
    pub async fn wait_in_history(
        &self,
        from: usize,
        timeout: Duration,
        matches: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(frame) = self.find_in_history(from, &matches) {
                return Some(frame);
            }
            if Instant::now() >= deadline {
                return None;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    fn history_text(&self) -> String {
        let history = self.history();
        let shown: Vec<String> = history
            .iter()
            .rev()
            .take(20)
            .rev()
            .map(Value::to_string)
            .collect();
        format!(
            "({} in all, the last 20)\n  {}",
            history.len(),
            shown.join("\n  ")
        )
    }

    /// Closes the connection politely.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.sink.close()).await;
    }
}

impl Drop for WsClient {
    fn drop(&mut self) {
        self.reader.abort();
    }
}
