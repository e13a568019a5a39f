//! `chaos`: the chat scenario on a deployment this tool starts (Redis, a fresh Postgres
//! database, two `convene gateway`s) while it SIGKILLs one gateway and starts it again, and
//! restarts Redis. Clients reconnect (to the other gateway), resume from their cursors and
//! resend unacknowledged messages with the same client ids. The verdict (`consistent`)
//! requires zero final gaps (no message lost), zero duplicates of any kind and every send
//! acknowledged; live-stream gaps (seqs a client only got by asking history) and errors are
//! reported beside it (`live_stream_gapless`), not hidden: a client that resumed from its
//! cursor should see none.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::chat::{self, ChatConfig, ChatReport};
use crate::processes::{self, ConveneServer, FreshDatabase, ThrowawayRedis};
use crate::progress::LiveCounters;
use crate::targets::TargetKind;
use crate::targets::TargetSpec;
use crate::{Error, Result};

#[derive(Debug, Clone)]
pub struct ChaosConfig {
    pub chat: ChatConfig,
    pub convene_bin: Option<PathBuf>,
    /// `postgres://user@host:port` (no database): fresh databases are created there.
    pub postgres_url: String,
}

/// One disruption, when it happened (seconds after sending started).
#[derive(Debug, Clone, Serialize)]
pub struct Disruption {
    pub at_seconds: f64,
    pub what: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChaosReport {
    pub chat: ChatReport,
    pub disruptions: Vec<Disruption>,
    /// Zero final gaps, zero duplicates (seqs twice, a message under two seqs, a client id
    /// twice in history), every message acknowledged.
    pub consistent: bool,
    /// No live-stream gaps and no errors: every client got every seq pushed live (resume
    /// replays from the cursor), without asking history.
    pub live_stream_gapless: bool,
}

/// A two-gateway Convene deployment on a throwaway Redis and a fresh database. Dropping it
/// stops every process and drops the database.
pub struct ConveneStack {
    pub gateways: Vec<ConveneServer>,
    pub redis: ThrowawayRedis,
    pub database: FreshDatabase,
    pub work_dir: tempfile::TempDir,
}

impl ConveneStack {
    pub async fn start(
        convene_bin: &std::path::Path,
        postgres_url: &str,
        gateway_count: usize,
    ) -> Result<Self> {
        let work_dir = processes::work_dir()?;
        let redis = ThrowawayRedis::start(work_dir.path()).await?;
        let database = FreshDatabase::create(postgres_url, "").await?;
        processes::migrate(convene_bin, work_dir.path(), &database.url()).await?;
        let jwt_keys = processes::random_jwt_keys();
        let mut gateways = Vec::with_capacity(gateway_count);
        for _ in 0..gateway_count {
            gateways.push(
                ConveneServer::gateway(
                    convene_bin,
                    work_dir.path(),
                    &database.url(),
                    &redis.url(),
                    &jwt_keys,
                )
                .await?,
            );
        }
        Ok(Self {
            gateways,
            redis,
            database,
            work_dir,
        })
    }

    pub fn target_spec(&self) -> TargetSpec {
        TargetSpec {
            kind: TargetKind::Convene,
            base_urls: self
                .gateways
                .iter()
                .map(|gateway| gateway.base_url.clone())
                .collect(),
        }
    }

    pub fn pids(&self) -> Vec<u32> {
        self.gateways
            .iter()
            .map(|gateway| gateway.process.pid())
            .collect()
    }
}

pub async fn run(config: &ChaosConfig, counters: Arc<LiveCounters>) -> Result<ChaosReport> {
    let mut chat_config = config.chat.clone();
    chat_config.reconnect = true;
    chat_config.validate()?;
    let convene_bin = processes::locate_convene(config.convene_bin.as_deref())?;
    let mut stack = ConveneStack::start(&convene_bin, &config.postgres_url, 2).await?;
    let target = stack.target_spec().open()?;
    let (sending_tx, sending_rx) = tokio::sync::oneshot::channel();
    let duration = chat_config.duration;
    let chat_run = chat::run(target, &chat_config, counters, Some(sending_tx));
    let disrupt = async {
        let mut disruptions = Vec::new();
        if sending_rx.await.is_err() {
            return Ok::<_, Error>(disruptions);
        }
        let started = Instant::now();
        let mut note = |what: String| {
            disruptions.push(Disruption {
                at_seconds: started.elapsed().as_secs_f64(),
                what,
            });
        };
        tokio::time::sleep(duration / 4).await;
        note(format!("SIGKILL {}", stack.gateways[0].base_url));
        stack.gateways[0].kill().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        stack.gateways[0].restart().await?;
        note(format!("restarted {}", stack.gateways[0].base_url));
        tokio::time::sleep_until((started + duration / 2).into()).await;
        note("restart redis".to_owned());
        stack.redis.restart().await?;
        note("redis back".to_owned());
        tokio::time::sleep_until((started + duration * 3 / 4).into()).await;
        note(format!("SIGKILL {}", stack.gateways[1].base_url));
        stack.gateways[1].kill().await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        stack.gateways[1].restart().await?;
        note(format!("restarted {}", stack.gateways[1].base_url));
        Ok(disruptions)
    };
    let (chat_report, disruptions) = tokio::join!(chat_run, disrupt);
    let chat_report = chat_report?;
    let disruptions = disruptions?;
    let consistent =
        chat_report.gaps == 0 && chat_report.all_duplicates() == 0 && chat_report.unacked == 0;
    let live_stream_gapless = chat_report.live_stream_gaps == 0 && chat_report.error_count() == 0;
    drop(stack);
    Ok(ChaosReport {
        chat: chat_report,
        disruptions,
        consistent,
        live_stream_gapless,
    })
}
