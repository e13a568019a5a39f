//! `convene-loadtest`: the command line. Each subcommand maps its flags onto a scenario's
//! config, runs it, prints a summary table, and writes the JSON report and plots when asked.
//! Ctrl-C drops the running scenario, which stops every process it started.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use convene_loadtest::progress::LiveCounters;
use convene_loadtest::scenarios::api::{self, ApiConfig};
use convene_loadtest::scenarios::chaos::{self, ChaosConfig};
use convene_loadtest::scenarios::chat::{self, ChatConfig};
use convene_loadtest::scenarios::compare::{self, CompareConfig};
use convene_loadtest::scenarios::connections::{self, ConnectionsConfig, MemoryProbe};
use convene_loadtest::scenarios::join_storm::{self, JoinStormConfig};
use convene_loadtest::scenarios::media::{self, MediaConfig};
use convene_loadtest::targets::convene::ConveneTarget;
use convene_loadtest::targets::{TargetKind, TargetSpec};
use convene_loadtest::{plots, report};

#[derive(Debug, Parser)]
#[command(
    name = "convene-loadtest",
    version,
    about = "Load tests for Convene (and its Socket.IO baseline)"
)]
struct Cli {
    #[command(flatten)]
    output: OutputArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct OutputArgs {
    /// Write the report as JSON to this file.
    #[arg(long, global = true, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write PNG and SVG plots into this directory.
    #[arg(long, global = true, value_name = "DIR")]
    plots: Option<PathBuf>,
    /// Allow targets that are not on this machine (loopback). Think twice.
    #[arg(long, global = true)]
    allow_remote: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Users in group conversations send messages; measures delivery latency, throughput,
    /// gaps and duplicates.
    Chat(ChatArgs),
    /// Opens and holds idle authenticated WebSockets; measures memory per connection.
    Connections(ConnectionsArgs),
    /// Logins and history reads at a fixed rate (open-loop); Convene only.
    Api(ApiArgs),
    /// Chat on two gateways this tool starts, while it kills a gateway and restarts Redis.
    Chaos(ChaosArgs),
    /// Starts Convene and the Socket.IO baseline on one Redis and Postgres, runs chat and
    /// connections against each, and reports the ratios.
    Compare(CompareArgs),
    /// Headless WebRTC participants publish and receive audio and video in meetings of a
    /// running Convene; measures join time, forwarded packets, loss and added latency.
    Media(MediaArgs),
    /// Many users join meetings at once; measures time to joined (and to first media).
    JoinStorm(JoinStormArgs),
}

#[derive(Debug, Args)]
struct MeetingTargetArgs {
    /// `convene=URL`: one Convene with media (`convene serve`, or a gateway with SFU nodes).
    #[arg(long, default_value = "convene=http://127.0.0.1:8080")]
    target: TargetSpec,
}

impl MeetingTargetArgs {
    fn base_url(&self, allow_remote: bool) -> anyhow::Result<String> {
        self.target.check_loopback(allow_remote)?;
        anyhow::ensure!(
            self.target.kind == TargetKind::Convene && self.target.base_urls.len() == 1,
            "meetings need one convene= URL (the baseline has no media)"
        );
        Ok(self.target.base_urls[0].clone())
    }
}

#[derive(Debug, Args)]
struct MediaArgs {
    #[command(flatten)]
    target: MeetingTargetArgs,
    /// Meetings, each with its own participants.
    #[arg(long, default_value_t = 2)]
    meetings: usize,
    /// Participants per meeting; each publishes and receives everyone else.
    #[arg(long, default_value_t = 3)]
    participants_per_meeting: usize,
    /// Seconds measured, once everyone receives everyone.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// The synthetic camera's bitrate in kbit/s (one layer); 0 publishes no video.
    #[arg(long, default_value_t = 300)]
    video_kbps: u32,
    /// The synthetic camera's frames per second.
    #[arg(long, default_value_t = 15)]
    fps: u32,
    /// Publish no microphone.
    #[arg(long)]
    no_audio: bool,
}

#[derive(Debug, Args)]
struct JoinStormArgs {
    #[command(flatten)]
    target: MeetingTargetArgs,
    /// Meetings joined; users are spread evenly over them.
    #[arg(long, default_value_t = 10)]
    meetings: usize,
    /// Users joining.
    #[arg(long, default_value_t = 50)]
    users: usize,
    /// The joins are spread evenly over this many milliseconds (0: all at once).
    #[arg(long, default_value_t = 1000)]
    within_ms: u64,
    /// Also publish and subscribe, and measure the time to the first media packet.
    #[arg(long)]
    media: bool,
}

#[derive(Debug, Args)]
struct TargetArgs {
    /// `convene=URL[,URL…]` or `socketio=URL[,URL…]`; users are spread round-robin.
    #[arg(long, default_value = "convene=http://127.0.0.1:8080")]
    target: TargetSpec,
}

#[derive(Debug, Args)]
struct ChatLoadArgs {
    /// Simulated users (one WebSocket each).
    #[arg(long, default_value_t = 20)]
    users: usize,
    /// Group conversations; users are spread evenly over them.
    #[arg(long, default_value_t = 4)]
    conversations: usize,
    /// Messages per second, all users together.
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Size of each message body, in bytes.
    #[arg(long, default_value_t = 64)]
    message_bytes: usize,
}

impl ChatLoadArgs {
    fn config(&self) -> ChatConfig {
        ChatConfig {
            users: self.users,
            conversations: self.conversations,
            rate_per_second: self.rate,
            duration: Duration::from_secs(self.duration),
            message_bytes: self.message_bytes,
            ..ChatConfig::default()
        }
    }
}

#[derive(Debug, Args)]
struct ChatArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    load: ChatLoadArgs,
}

#[derive(Debug, Args)]
struct ConnectionsLoadArgs {
    /// Idle WebSockets to open and hold.
    #[arg(long, default_value_t = 200)]
    connections: usize,
    /// Users they belong to (several connections per user, like tabs).
    #[arg(long = "connection-users", default_value_t = 20)]
    connection_users: usize,
    /// Seconds to hold them before measuring memory.
    #[arg(long, default_value_t = 5)]
    hold: u64,
}

impl ConnectionsLoadArgs {
    fn config(&self) -> ConnectionsConfig {
        ConnectionsConfig {
            connections: self.connections,
            users: self.connection_users,
            hold: Duration::from_secs(self.hold),
        }
    }
}

#[derive(Debug, Args)]
struct ConnectionsArgs {
    #[command(flatten)]
    target: TargetArgs,
    #[command(flatten)]
    load: ConnectionsLoadArgs,
    /// The server's process ids (comma-separated), to read VmRSS from /proc. Without it,
    /// `process_resident_memory_bytes` from each target URL's /metrics is used if present.
    #[arg(long, value_delimiter = ',')]
    pid: Vec<u32>,
}

#[derive(Debug, Args)]
struct ApiArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// Users created (logins rotate over them).
    #[arg(long, default_value_t = 5)]
    users: usize,
    /// Requests per second.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// Seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Percentage of requests that are logins; the others read history.
    #[arg(long, default_value_t = 20)]
    login_percent: u8,
}

#[derive(Debug, Args)]
struct StackArgs {
    /// The `convene` binary (else $CONVENE_BIN, else `convene` next to this executable, else
    /// target/release/convene).
    #[arg(long)]
    convene_bin: Option<PathBuf>,
    /// The Postgres server fresh databases are created on (no database name).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432")]
    postgres_url: String,
}

#[derive(Debug, Args)]
struct ChaosArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    load: ChatLoadArgs,
}

#[derive(Debug, Args)]
struct CompareArgs {
    #[command(flatten)]
    stack: StackArgs,
    #[command(flatten)]
    load: ChatLoadArgs,
    #[command(flatten)]
    connections: ConnectionsLoadArgs,
    /// The Socket.IO baseline's directory.
    #[arg(long, default_value = "loadtest/baselines/socketio")]
    baseline_dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONVENE_LOADTEST_LOG")
                // webrtc-rs's ICE agent warns about every connection it starts before the
                // answer arrives, which is how every headless participant starts.
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,rtc_ice=error")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(async {
        tokio::select! {
            result = run(cli) => result,
            signal = interrupted() => {
                // Dropping `run` dropped every process handle (each kills its child by PID)
                // and every fresh database (dropped with psql).
                anyhow::bail!("{signal}: every process this run started was stopped")
            }
        }
    })
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM, naming which.
async fn interrupted() -> &'static str {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => terminate.recv().await,
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "interrupted",
        _ = terminate => "terminated",
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = cli.output;
    let counters = Arc::new(LiveCounters::default());
    match cli.command {
        Command::Chat(args) => {
            args.target.target.check_loopback(output.allow_remote)?;
            let target = args.target.target.open()?;
            let chat_report = chat::run(target, &args.load.config(), counters, None)
                .await
                .context("the chat scenario failed")?;
            print!("{}", report::chat_summary(&chat_report));
            write_outputs(&output, &chat_report, |dir| {
                plots::latency_plots(dir, "chat", &[("", &chat_report)])
            })?;
        }
        Command::Connections(args) => {
            args.target.target.check_loopback(output.allow_remote)?;
            let target = args.target.target.open()?;
            let probe = if args.pid.is_empty() {
                (args.target.target.kind == TargetKind::Convene).then(|| {
                    MemoryProbe::Metrics(
                        args.target
                            .target
                            .base_urls
                            .iter()
                            .map(|url| format!("{url}/metrics"))
                            .collect(),
                    )
                })
            } else {
                Some(MemoryProbe::Pids(args.pid.clone()))
            };
            let connections_report = connections::run(target, &args.load.config(), probe, counters)
                .await
                .context("the connections scenario failed")?;
            print!("{}", report::connections_summary(&connections_report));
            write_outputs(&output, &connections_report, |_| Ok(()))?;
        }
        Command::Api(args) => {
            args.target.target.check_loopback(output.allow_remote)?;
            anyhow::ensure!(
                args.target.target.kind == TargetKind::Convene,
                "the api scenario needs a convene= target (the baseline has no REST API)"
            );
            let target = Arc::new(ConveneTarget::new(args.target.target.base_urls.clone())?);
            let config = ApiConfig {
                users: args.users,
                rate_per_second: args.rate,
                duration: Duration::from_secs(args.duration),
                login_percent: args.login_percent,
            };
            let api_report = api::run(target, &config, counters)
                .await
                .context("the api scenario failed")?;
            print!("{}", report::api_summary(&api_report));
            write_outputs(&output, &api_report, |_| Ok(()))?;
        }
        Command::Chaos(args) => {
            let config = ChaosConfig {
                chat: args.load.config(),
                convene_bin: args.stack.convene_bin,
                postgres_url: args.stack.postgres_url,
            };
            let chaos_report = chaos::run(&config, counters)
                .await
                .context("the chaos scenario failed")?;
            print!("{}", report::chaos_summary(&chaos_report));
            write_outputs(&output, &chaos_report, |dir| {
                plots::latency_plots(dir, "chaos", &[("", &chaos_report.chat)])
            })?;
            anyhow::ensure!(
                chaos_report.consistent,
                "the chaos run lost or repeated messages"
            );
        }
        Command::Compare(args) => {
            let config = CompareConfig {
                chat: args.load.config(),
                connections: args.connections.config(),
                convene_bin: args.stack.convene_bin,
                baseline_dir: args.baseline_dir,
                postgres_url: args.stack.postgres_url,
            };
            let compare_report = compare::run(&config)
                .await
                .context("the compare scenario failed")?;
            print!("{}", report::compare_summary(&compare_report));
            write_outputs(&output, &compare_report, |dir| {
                plots::latency_plots(
                    dir,
                    "compare",
                    &[
                        ("Convene", &compare_report.convene.chat),
                        ("Socket.IO baseline", &compare_report.baseline.chat),
                    ],
                )
            })?;
        }
        Command::Media(args) => {
            let base_url = args.target.base_url(output.allow_remote)?;
            let config = MediaConfig {
                meetings: args.meetings,
                participants_per_meeting: args.participants_per_meeting,
                duration: Duration::from_secs(args.duration),
                video_bits_per_second: args.video_kbps.saturating_mul(1000),
                frames_per_second: args.fps,
                audio: !args.no_audio,
                ..MediaConfig::default()
            };
            let media_report = media::run(&base_url, &config, counters)
                .await
                .context("the media scenario failed")?;
            print!("{}", media::summary(&media_report));
            write_outputs(&without_plots(output), &media_report, |_| Ok(()))?;
        }
        Command::JoinStorm(args) => {
            let base_url = args.target.base_url(output.allow_remote)?;
            let config = JoinStormConfig {
                meetings: args.meetings,
                users: args.users,
                within: Duration::from_millis(args.within_ms),
                media: args.media,
                ..JoinStormConfig::default()
            };
            let storm_report = join_storm::run(&base_url, &config, counters)
                .await
                .context("the join-storm scenario failed")?;
            print!("{}", join_storm::summary(&storm_report));
            write_outputs(&without_plots(output), &storm_report, |_| Ok(()))?;
        }
    }
    Ok(())
}

/// The media scenarios draw no plots yet (their JSON has the percentile curves and latency per
/// second): say so rather than leave an empty directory.
fn without_plots(output: OutputArgs) -> OutputArgs {
    if output.plots.is_some() {
        eprintln!("this scenario draws no plots yet; --json has its percentile curves");
    }
    OutputArgs {
        plots: None,
        ..output
    }
}

fn write_outputs<T: serde::Serialize>(
    output: &OutputArgs,
    report: &T,
    draw: impl FnOnce(&std::path::Path) -> convene_loadtest::Result<()>,
) -> anyhow::Result<()> {
    if let Some(path) = &output.json {
        report::write_json(path, report).with_context(|| format!("write {}", path.display()))?;
        println!("JSON report: {}", path.display());
    }
    if let Some(dir) = &output.plots {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        draw(dir).context("draw the plots")?;
        println!("plots: {}", dir.display());
    }
    Ok(())
}
