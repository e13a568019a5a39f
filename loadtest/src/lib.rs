//! `convene-loadtest`: drives a Convene deployment the way many clients would, and measures it.
//! It registers users over the REST API, opens WebSockets at `/api/v1/ws`, sends and receives
//! chat messages with the `convene-proto` frames, and reports end-to-end latency percentiles
//! (HDR histograms), throughput, memory per connection and sequence gaps as a table, JSON and
//! plots. The same chat scenarios also drive the Node.js Socket.IO baseline
//! (`loadtest/baselines/socketio/`), so that `compare` can put the two stacks side by side.
//!
//! Architecture invariant: the load tester only talks to a deployment over its public
//! protocol (HTTP, WebSocket, and `/proc` of processes it is told about or started). It never
//! links the gateway, the store or the bus: what it measures is what a client sees.
//! Every scenario is bounded (hard caps on users, rates and durations), stops by itself, and
//! refuses non-loopback targets unless told otherwise.

pub mod bounds;
pub mod metrics;
pub mod plots;
pub mod processes;
pub mod progress;
pub mod report;
pub mod scenarios;
pub mod sequence;
pub mod targets;

/// Everything that can go wrong in a load test.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid target `{spec}`: {reason}")]
    InvalidTarget { spec: String, reason: String },
    #[error("{target} is not a loopback address; pass --allow-remote to load it anyway")]
    RemoteTargetRefused { target: String },
    #[error("{setting} = {value} is above the hard cap of {cap}")]
    AboveCap {
        setting: &'static str,
        value: u64,
        cap: u64,
    },
    #[error("{setting} must be at least {minimum}")]
    BelowMinimum { setting: &'static str, minimum: u64 },
    #[error("http request to {url} failed")]
    Http {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}: {body}")]
    HttpStatus {
        url: String,
        status: u16,
        body: String,
    },
    #[error("websocket to {url} failed")]
    WebSocket {
        url: String,
        #[source]
        source: Box<tokio_tungstenite::tungstenite::Error>,
    },
    #[error("protocol violation from {peer}: {detail}")]
    Protocol { peer: String, detail: String },
    #[error("timed out waiting for {what}")]
    Timeout { what: String },
    #[error("the connection closed")]
    ConnectionClosed,
    #[error("could not start {program}")]
    Spawn {
        program: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} did not become ready: {detail}")]
    NotReady { what: String, detail: String },
    #[error("{what} failed: {detail}")]
    Command { what: String, detail: String },
    #[error("i/o error on {path}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not encode or decode json")]
    Json(#[from] serde_json::Error),
    #[error("could not draw plot {path}: {detail}")]
    Plot { path: String, detail: String },
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
