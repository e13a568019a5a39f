//! `compare`: one command, end to end. Starts a throwaway Redis and fresh databases on the
//! machine's Postgres, two `convene gateway`s and two Socket.IO baseline processes on them,
//! runs the same `chat` and `connections` scenarios against each stack in turn, samples each
//! server process's CPU time from `/proc/<pid>/stat`, and reports Convene against the
//! baseline. Every process it started is stopped when it returns, fails or is interrupted
//! (the handles kill on drop).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::chaos::ConveneStack;
use super::chat::{self, ChatConfig, ChatReport};
use super::connections::{self, ConnectionsConfig, ConnectionsReport, MemoryProbe};
use crate::processes::{self, BaselineServer, FreshDatabase};
use crate::progress::LiveCounters;
use crate::targets::{Target, TargetKind, TargetSpec};
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct CompareConfig {
    pub chat: ChatConfig,
    pub connections: ConnectionsConfig,
    pub convene_bin: Option<PathBuf>,
    /// The baseline's directory (with `server.js` and `package.json`).
    pub baseline_dir: PathBuf,
    pub postgres_url: String,
}

/// What one stack did.
#[derive(Debug, Clone, Serialize)]
pub struct StackResult {
    pub stack: TargetKind,
    pub chat: ChatReport,
    pub connections: ConnectionsReport,
    /// CPU time (user + system) of the two server processes from the start of sending to the
    /// end of the chat run.
    pub chat_server_cpu_seconds: f64,
    /// CPU time of Redis during the chat run (shared infrastructure, for context).
    pub chat_redis_cpu_seconds: f64,
    /// Deliveries per second of server CPU time: deliveries / server CPU seconds.
    pub deliveries_per_core_second: f64,
}

/// Convene ÷ baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Ratios {
    /// Higher is better for Convene.
    pub deliveries_per_core: f64,
    /// Lower is better for Convene.
    pub p50_latency: f64,
    pub p99_latency: f64,
    pub memory_per_connection: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CompareReport {
    pub convene: StackResult,
    pub baseline: StackResult,
    pub ratios: Ratios,
    pub run_seconds: f64,
    pub machine: Machine,
}

/// What the numbers were measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub memory_total_bytes: Option<u64>,
}

impl Machine {
    pub fn here() -> Self {
        let memory_total_bytes =
            std::fs::read_to_string("/proc/meminfo")
                .ok()
                .and_then(|meminfo| {
                    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
                    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                    Some(kib * 1024)
                });
        Self {
            cpus: std::thread::available_parallelism().map_or(1, usize::from),
            memory_total_bytes,
        }
    }
}

fn cpu_seconds(pids: &[u32]) -> f64 {
    pids.iter()
        .filter_map(|&pid| processes::cpu_time(pid).ok())
        .map(|cpu| cpu.as_secs_f64())
        .sum()
}

/// Runs chat then connections on one stack.
async fn measure_stack(
    target: Arc<dyn Target>,
    server_pids: Vec<u32>,
    redis_pid: u32,
    config: &CompareConfig,
) -> Result<StackResult> {
    let counters = Arc::new(LiveCounters::default());
    // CPU is sampled from the moment every client is connected and sending starts to the end
    // of the run (sending and draining), so registrations (password hashing) and connection
    // setup are not counted against the message path.
    let (sending_tx, sending_rx) = tokio::sync::oneshot::channel();
    let sampled_pids = server_pids.clone();
    let at_start = tokio::spawn(async move {
        sending_rx.await.ok()?;
        Some((cpu_seconds(&sampled_pids), cpu_seconds(&[redis_pid])))
    });
    let chat_report = chat::run(target.clone(), &config.chat, counters, Some(sending_tx)).await?;
    let (server_before, redis_before) =
        at_start
            .await
            .ok()
            .flatten()
            .ok_or_else(|| Error::Protocol {
                peer: "load tester".to_owned(),
                detail: "the chat run never started sending".to_owned(),
            })?;
    let chat_server_cpu_seconds = cpu_seconds(&server_pids) - server_before;
    let chat_redis_cpu_seconds = cpu_seconds(&[redis_pid]) - redis_before;
    let counters = Arc::new(LiveCounters::default());
    let connections_report = connections::run(
        target.clone(),
        &config.connections,
        Some(MemoryProbe::Pids(server_pids)),
        counters,
    )
    .await?;
    Ok(StackResult {
        stack: target.kind(),
        deliveries_per_core_second: chat_report.deliveries as f64
            / chat_server_cpu_seconds.max(0.001),
        chat: chat_report,
        connections: connections_report,
        chat_server_cpu_seconds,
        chat_redis_cpu_seconds,
    })
}

/// Installs the baseline's dependencies (`npm ci`) when `node_modules` is missing.
pub async fn ensure_baseline_installed(baseline_dir: &std::path::Path) -> Result<()> {
    if baseline_dir.join("node_modules").is_dir() {
        return Ok(());
    }
    let output = tokio::process::Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund"])
        .current_dir(baseline_dir)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .map_err(|source| Error::Spawn {
            program: "npm ci".to_owned(),
            source,
        })?;
    if !output.status.success() {
        return Err(Error::Command {
            what: format!("npm ci in {}", baseline_dir.display()),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(())
}

/// Two baseline processes on a fresh database and the given Redis.
pub struct BaselineStack {
    pub servers: Vec<BaselineServer>,
    pub database: FreshDatabase,
}

impl BaselineStack {
    pub async fn start(
        baseline_dir: &std::path::Path,
        work_dir: &std::path::Path,
        postgres_url: &str,
        redis_url: &str,
        count: usize,
    ) -> Result<Self> {
        ensure_baseline_installed(baseline_dir).await?;
        let database = FreshDatabase::create(postgres_url, "_baseline").await?;
        let server_js = baseline_dir.join("server.js");
        let mut servers = Vec::with_capacity(count);
        for index in 0..count {
            servers.push(
                BaselineServer::start(
                    &server_js,
                    work_dir,
                    &database.url(),
                    redis_url,
                    &format!("baseline-{index}"),
                )
                .await?,
            );
        }
        Ok(Self { servers, database })
    }

    pub fn target_spec(&self) -> TargetSpec {
        TargetSpec {
            kind: TargetKind::Socketio,
            base_urls: self
                .servers
                .iter()
                .map(|server| server.base_url.clone())
                .collect(),
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        self.servers
            .iter()
            .map(|server| server.process.pid())
            .collect()
    }
}

fn ratio(convene: f64, baseline: f64) -> f64 {
    if baseline == 0.0 {
        f64::NAN
    } else {
        convene / baseline
    }
}

pub async fn run(config: &CompareConfig) -> Result<CompareReport> {
    config.chat.validate()?;
    config.connections.validate()?;
    let started = Instant::now();
    let convene_bin = processes::locate_convene(config.convene_bin.as_deref())?;
    let convene_stack = ConveneStack::start(&convene_bin, &config.postgres_url, 2).await?;
    let baseline_stack = BaselineStack::start(
        &config.baseline_dir,
        convene_stack.work_dir.path(),
        &config.postgres_url,
        &convene_stack.redis.url(),
        2,
    )
    .await?;
    let redis_pid = convene_stack.redis.process.pid();
    let convene = measure_stack(
        convene_stack.target_spec().open()?,
        convene_stack.pids(),
        redis_pid,
        config,
    )
    .await?;
    // Let the first stack's sockets close before measuring the second.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let baseline = measure_stack(
        baseline_stack.target_spec().open()?,
        baseline_stack.pids(),
        redis_pid,
        config,
    )
    .await?;
    let ratios = Ratios {
        deliveries_per_core: ratio(
            convene.deliveries_per_core_second,
            baseline.deliveries_per_core_second,
        ),
        p50_latency: ratio(
            convene.chat.delivery_latency.p50_ms,
            baseline.chat.delivery_latency.p50_ms,
        ),
        p99_latency: ratio(
            convene.chat.delivery_latency.p99_ms,
            baseline.chat.delivery_latency.p99_ms,
        ),
        memory_per_connection: match (
            convene.connections.memory_per_connection_bytes,
            baseline.connections.memory_per_connection_bytes,
        ) {
            (Some(convene), Some(baseline)) => Some(ratio(convene, baseline)),
            _ => None,
        },
    };
    drop(baseline_stack);
    drop(convene_stack);
    Ok(CompareReport {
        convene,
        baseline,
        ratios,
        run_seconds: started.elapsed().as_secs_f64(),
        machine: Machine::here(),
    })
}
