//! `convene-loadtest`: the command line. Each subcommand maps its flags onto a scenario's
//! config, runs it, prints a summary table, and writes the JSON report and plots when asked.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use convene_loadtest::progress::LiveCounters;
use convene_loadtest::report;
use convene_loadtest::scenarios::chat::{self, ChatConfig};
use convene_loadtest::targets::TargetSpec;

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
    // The media load-test engineer's subcommands (`media`, `join-storm`) go here.
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

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONVENE_LOADTEST_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    runtime.block_on(run(cli))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let output = cli.output;
    match cli.command {
        Command::Chat(args) => {
            args.target.target.check_loopback(output.allow_remote)?;
            let target = args.target.target.open()?;
            let counters = Arc::new(LiveCounters::default());
            let chat_report = chat::run(target, &args.load.config(), counters, None)
                .await
                .context("the chat scenario failed")?;
            print!("{}", report::chat_summary(&chat_report));
            if let Some(path) = &output.json {
                report::write_json(path, &chat_report)?;
            }
        }
    }
    Ok(())
}
