//! `connections`: open and hold N idle authenticated WebSockets and report what they cost
//! the server: resident memory growth divided by N, and connect latency.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::Serialize;

use super::setup;
use crate::metrics::{LatencyRecorder, LatencySummary};
use crate::processes;
use crate::progress::{LiveCounters, LiveProgress};
use crate::targets::{Outgoing, Target, TargetKind};
use crate::{Result, bounds};

#[derive(Debug, Clone)]
pub struct ConnectionsConfig {
    pub connections: usize,
    /// Users the connections belong to (each user holds several, like open tabs); at most
    /// `connections`.
    pub users: usize,
    /// How long to hold them open before measuring.
    pub hold: Duration,
}

impl Default for ConnectionsConfig {
    fn default() -> Self {
        Self {
            connections: 200,
            users: 20,
            hold: Duration::from_secs(5),
        }
    }
}

impl ConnectionsConfig {
    pub fn validate(&self) -> Result<()> {
        bounds::check_range(
            "--connections",
            self.connections as u64,
            1,
            bounds::MAX_CONNECTIONS,
        )?;
        bounds::check_range("--users", self.users as u64, 1, bounds::MAX_USERS)?;
        bounds::check_duration("--hold", self.hold)
    }
}

/// Where the server's memory is read from.
#[derive(Debug, Clone)]
pub enum MemoryProbe {
    /// VmRSS of these processes (summed), from `/proc/<pid>/status`.
    Pids(Vec<u32>),
    /// `process_resident_memory_bytes` from these `/metrics` URLs (summed).
    Metrics(Vec<String>),
}

impl MemoryProbe {
    pub fn describe(&self) -> String {
        match self {
            MemoryProbe::Pids(pids) => format!(
                "VmRSS of pid {}",
                pids.iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join("+")
            ),
            MemoryProbe::Metrics(urls) => {
                format!("process_resident_memory_bytes of {}", urls.join(" + "))
            }
        }
    }

    /// The summed resident memory, or `None` when a source cannot be read.
    pub async fn read(&self) -> Option<u64> {
        match self {
            MemoryProbe::Pids(pids) => pids
                .iter()
                .map(|&pid| processes::resident_bytes(pid).ok())
                .sum(),
            MemoryProbe::Metrics(urls) => {
                let http = crate::targets::convene::http_client().ok()?;
                let mut total = 0;
                for url in urls {
                    let body = http.get(url).send().await.ok()?.text().await.ok()?;
                    total += processes::parse_prometheus_rss(&body)?;
                }
                Some(total)
            }
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ConnectionsReport {
    pub target: TargetKind,
    pub base_urls: Vec<String>,
    pub requested: usize,
    pub opened: usize,
    pub errors: BTreeMap<String, u64>,
    pub connect_latency: LatencySummary,
    pub memory_source: Option<String>,
    pub resident_before_bytes: Option<u64>,
    pub resident_after_bytes: Option<u64>,
    /// (after − before) / opened.
    pub memory_per_connection_bytes: Option<f64>,
    /// Connections that were still open at the end of the hold.
    pub still_open: usize,
}

pub async fn run(
    target: Arc<dyn Target>,
    config: &ConnectionsConfig,
    memory: Option<MemoryProbe>,
    counters: Arc<LiveCounters>,
) -> Result<ConnectionsReport> {
    config.validate()?;
    let run_id = setup::run_id();
    let users = setup::create_users(
        target.as_ref(),
        &run_id,
        config.users.min(config.connections),
    )
    .await?;
    // Let the server settle after registrations before the baseline reading.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let resident_before = match &memory {
        Some(probe) => probe.read().await,
        None => None,
    };
    let progress = LiveProgress::start("connections", config.hold, counters.clone());
    let mut connect_latency = LatencyRecorder::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    let opened = futures::stream::iter((0..config.connections).map(|index| {
        let target = target.clone();
        let user = users[index % users.len()].clone();
        let counters = counters.clone();
        async move {
            let mut connection = target.connect(&user, index).await?;
            connection
                .send(Outgoing::Subscribe {
                    cursors: Vec::new(),
                })
                .await?;
            setup::wait_subscribed(&mut connection).await?;
            LiveCounters::add(&counters.connected, 1);
            Ok::<_, crate::Error>(connection)
        }
    }))
    .buffer_unordered(setup::CONNECT_CONCURRENCY)
    .collect::<Vec<_>>()
    .await;
    let mut connections = Vec::new();
    for result in opened {
        match result {
            Ok(connection) => {
                connect_latency.record(connection.connect_latency, Duration::ZERO);
                connections.push(connection);
            }
            Err(error) => {
                LiveCounters::add(&counters.errors, 1);
                *errors.entry(error_code(&error)).or_default() += 1;
            }
        }
    }
    tokio::time::sleep(config.hold).await;
    let resident_after = match &memory {
        Some(probe) => probe.read().await,
        None => None,
    };
    drop(progress);
    // A connection whose driver stopped has a closed channel.
    let still_open = connections
        .iter()
        .filter(|connection| !connection.outgoing.is_closed())
        .count();
    let opened = connections.len();
    drop(connections);
    let memory_per_connection_bytes = match (resident_before, resident_after) {
        (Some(before), Some(after)) if opened > 0 => {
            Some((after as f64 - before as f64) / opened as f64)
        }
        _ => None,
    };
    Ok(ConnectionsReport {
        target: target.kind(),
        base_urls: target.base_urls().to_vec(),
        requested: config.connections,
        opened,
        errors,
        connect_latency: connect_latency.summary(),
        memory_source: memory.as_ref().map(MemoryProbe::describe),
        resident_before_bytes: resident_before,
        resident_after_bytes: resident_after,
        memory_per_connection_bytes,
        still_open,
    })
}

/// A short code for an error, for the errors-by-kind count.
pub fn error_code(error: &crate::Error) -> String {
    match error {
        crate::Error::HttpStatus { status, .. } => format!("http_{status}"),
        crate::Error::Timeout { .. } => "timeout".to_owned(),
        crate::Error::WebSocket { .. } => "websocket".to_owned(),
        crate::Error::ConnectionClosed => "connection_closed".to_owned(),
        crate::Error::Http { .. } => "http".to_owned(),
        _ => "other".to_owned(),
    }
}
