//! What a scenario drives: a [`Target`] creates users and conversations and opens one
//! [`Connection`] per simulated client. Two implementations speak two protocols: Convene's
//! (REST + `/api/v1/ws`, [`convene`]) and the Socket.IO baseline's ([`socketio`]), so every
//! chat scenario runs unchanged against both.

pub mod convene;
pub mod socketio;

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::{Error, Result};

/// How many incoming frames a connection buffers for its scenario task before it stops
/// reading from the socket (backpressure instead of unbounded memory).
pub const INCOMING_CAPACITY: usize = 4_096;
/// How many frames a scenario may queue for a connection.
pub const OUTGOING_CAPACITY: usize = 256;
/// How long connecting (handshake and first frame) may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one HTTP request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Convene,
    Socketio,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            TargetKind::Convene => "convene",
            TargetKind::Socketio => "socketio",
        })
    }
}

/// `convene=http://127.0.0.1:8080,http://127.0.0.1:8081` or `socketio=http://127.0.0.1:9080`:
/// the protocol, and the gateway URLs users are spread over round-robin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetSpec {
    pub kind: TargetKind,
    pub base_urls: Vec<String>,
}

impl FromStr for TargetSpec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidTarget {
            spec: spec.to_owned(),
            reason: reason.to_owned(),
        };
        let (kind, urls) = spec
            .split_once('=')
            .ok_or_else(|| invalid("expected convene=URL[,URL…] or socketio=URL[,URL…]"))?;
        let kind = match kind {
            "convene" => TargetKind::Convene,
            "socketio" => TargetKind::Socketio,
            _ => return Err(invalid("the protocol is `convene` or `socketio`")),
        };
        let base_urls: Vec<String> = urls
            .split(',')
            .map(|url| url.trim().trim_end_matches('/').to_owned())
            .filter(|url| !url.is_empty())
            .collect();
        if base_urls.is_empty() {
            return Err(invalid("no URL"));
        }
        for url in &base_urls {
            let parsed = reqwest::Url::parse(url).map_err(|error| invalid(&error.to_string()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(invalid("URLs start with http:// or https://"));
            }
        }
        Ok(Self { kind, base_urls })
    }
}

impl TargetSpec {
    /// Refuses non-loopback URLs unless `allow_remote`.
    pub fn check_loopback(&self, allow_remote: bool) -> Result<()> {
        self.base_urls
            .iter()
            .try_for_each(|url| crate::bounds::check_loopback(url, allow_remote))
    }

    /// The implementation that speaks this target's protocol.
    pub fn open(&self) -> Result<Arc<dyn Target>> {
        Ok(match self.kind {
            TargetKind::Convene => Arc::new(convene::ConveneTarget::new(self.base_urls.clone())?),
            TargetKind::Socketio => {
                Arc::new(socketio::SocketIoTarget::new(self.base_urls.clone())?)
            }
        })
    }
}

/// A simulated user, as the target knows it.
#[derive(Debug, Clone)]
pub struct UserAccount {
    pub username: String,
    /// The target's id for the user (Convene: a UUID; baseline: the name).
    pub user_id: String,
    /// Convene only: the access token for REST and the WebSocket.
    pub access_token: Option<String>,
    /// Convene only: the password, for the `api` scenario's logins.
    pub password: Option<String>,
}

/// A conversation created for the run, and its newest seq before anything was sent.
#[derive(Debug, Clone)]
pub struct ConversationRef {
    pub conversation_id: String,
    pub base_seq: i64,
}

/// What a scenario asks a connection to do.
#[derive(Debug, Clone)]
pub enum Outgoing {
    /// Start receiving the events of these conversations after these seqs (Convene: `resume`;
    /// baseline: `join` each). Answered by [`Incoming::Subscribed`].
    Subscribe { cursors: Vec<(String, i64)> },
    /// Send a text message; answered by [`Incoming::SendAcked`] or [`Incoming::SendFailed`].
    Send {
        conversation_id: String,
        client_id: String,
        text: String,
    },
    /// Ask for the events after `after_seq` (a client that noticed a gap; Convene
    /// `fetch_events`, baseline `history`). They arrive as [`Incoming::Event`]s.
    Fetch {
        conversation_id: String,
        after_seq: i64,
    },
}

/// A chat message carried by an event.
#[derive(Debug, Clone)]
pub struct ChatMessage {
    pub client_id: String,
    pub text: String,
}

/// One entry of a conversation's log as history returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub seq: i64,
    /// The sender's client id, when the entry is a message.
    pub client_id: Option<String>,
}

/// What a connection reports to its scenario.
#[derive(Debug, Clone)]
pub enum Incoming {
    Subscribed,
    /// One entry of a conversation's log (a message, or another change on Convene).
    Event {
        conversation_id: String,
        seq: i64,
        message: Option<ChatMessage>,
        /// The event came in the answer to an [`Outgoing::Fetch`] (history), not on the live
        /// stream (which includes Convene's resume replay).
        via_fetch: bool,
    },
    SendAcked {
        client_id: String,
        seq: i64,
        duplicate: bool,
    },
    SendFailed {
        client_id: String,
        code: String,
    },
    /// The server says events may have been missed (Convene `resync_required`).
    ResyncRequired {
        conversation_id: Option<String>,
    },
    /// An error not tied to a send.
    Error {
        code: String,
        message: String,
    },
    /// The socket closed; nothing more will arrive.
    Closed {
        reason: String,
    },
}

/// One open client connection: a driver task owns the socket; the scenario talks to it over
/// two bounded channels. Dropping it stops the driver and closes the socket.
pub struct Connection {
    pub outgoing: mpsc::Sender<Outgoing>,
    pub incoming: mpsc::Receiver<Incoming>,
    /// From starting the handshake to the connection being usable (Convene: `ready`;
    /// baseline: the Socket.IO connect acknowledgement).
    pub connect_latency: Duration,
    driver: JoinHandle<()>,
}

impl Connection {
    pub(crate) fn new(
        outgoing: mpsc::Sender<Outgoing>,
        incoming: mpsc::Receiver<Incoming>,
        connect_latency: Duration,
        driver: JoinHandle<()>,
    ) -> Self {
        Self {
            outgoing,
            incoming,
            connect_latency,
            driver,
        }
    }

    pub async fn send(&self, outgoing: Outgoing) -> Result<()> {
        self.outgoing
            .send(outgoing)
            .await
            .map_err(|_| Error::ConnectionClosed)
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// A deployment under test, speaking one protocol. `gateway_index` picks one of the target's
/// URLs (modulo their number), so users spread round-robin and a reconnect can go elsewhere.
#[async_trait::async_trait]
pub trait Target: Send + Sync {
    fn kind(&self) -> TargetKind;

    fn base_urls(&self) -> &[String];

    /// Creates a user named after `run_id` and `index`.
    async fn create_user(&self, run_id: &str, index: usize) -> Result<UserAccount>;

    /// Creates a group conversation of `members` (the first one creates it).
    async fn create_conversation(
        &self,
        run_id: &str,
        index: usize,
        members: &[UserAccount],
    ) -> Result<ConversationRef>;

    /// Opens an authenticated connection for `user`.
    async fn connect(&self, user: &UserAccount, gateway_index: usize) -> Result<Connection>;

    /// Every entry of the conversation's log after `after_seq`, read from history.
    async fn history(
        &self,
        user: &UserAccount,
        conversation: &ConversationRef,
        after_seq: i64,
    ) -> Result<Vec<HistoryEntry>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_names_the_protocol_and_its_urls() {
        let spec: TargetSpec = "convene=http://127.0.0.1:8080, http://127.0.0.1:8081/"
            .parse()
            .unwrap();
        assert_eq!(spec.kind, TargetKind::Convene);
        assert_eq!(
            spec.base_urls,
            vec!["http://127.0.0.1:8080", "http://127.0.0.1:8081"]
        );
        let spec: TargetSpec = "socketio=http://127.0.0.1:9080".parse().unwrap();
        assert_eq!(spec.kind, TargetKind::Socketio);
        assert!("http://127.0.0.1:8080".parse::<TargetSpec>().is_err());
        assert!("grpc=http://127.0.0.1:8080".parse::<TargetSpec>().is_err());
        assert!("convene=".parse::<TargetSpec>().is_err());
        assert!("convene=ws://127.0.0.1:1".parse::<TargetSpec>().is_err());
    }
}
