//! How much one SFU node forwards, at what CPU cost, with what loss and added latency.
//!
//! ```text
//! cargo run --release -p convene-sfu --features testing --example forwarding_bench -- \
//!     --publishers 4 --subscribers 4 --seconds 10 [--baseline relay|none] [--json]
//! ```
//!
//! N publishers send synthetic VP8 (30 fps, ~1 Mbit/s, payloads up to 1100 bytes, each packet
//! stamped with its send time) to an in-process node on loopback, which forwards every camera
//! to each of M subscribers; the node runs alone on its own thread, whose CPU time is read
//! from `/proc`. The baseline sends the same cameras over N×M direct peer connections through
//! plain UDP relays (also on one thread of their own): the same packets delivered, without
//! SRTP, RTP parsing or forwarding decisions. Everything is bounded in time and stops by
//! itself. See docs/benchmarks.md for the method and the numbers.

mod measure;
mod procfs;
mod topologies;

use std::time::Duration;

use clap::Parser;
use convene_sfu::testing::VideoPattern;

use crate::measure::RunReport;
use crate::topologies::Shape;

#[derive(Debug, Parser)]
#[command(about = "Forwarding throughput, CPU, loss and latency of one SFU node on loopback")]
struct Args {
    #[arg(long, default_value_t = 4)]
    publishers: usize,
    #[arg(long, default_value_t = 4)]
    subscribers: usize,
    /// Length of the measured window, after every subscriber receives every camera.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value_t = 30)]
    fps: u32,
    #[arg(long, default_value_t = 1_000_000)]
    bitrate: u32,
    /// Largest RTP payload in bytes.
    #[arg(long, default_value_t = 1100)]
    payload: usize,
    #[arg(long, value_enum, default_value_t = Baseline::Relay)]
    baseline: Baseline,
    /// Print JSON instead of the table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Baseline {
    /// Direct peer connections through plain UDP relays, run before the SFU.
    Relay,
    None,
}

/// The 1-minute load average: how busy the (shared) machine was.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|loadavg| loadavg.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let load_before = load_average();
    let shape = Shape {
        n_publishers: args.publishers.max(1),
        n_subscribers: args.subscribers.max(1),
        window: Duration::from_secs(args.seconds.max(1)),
        pattern: VideoPattern {
            frames_per_second: args.fps.max(1),
            bits_per_second: args.bitrate,
            max_payload_bytes: args.payload,
            ..VideoPattern::default()
        },
    };
    // The participants (both webrtc-rs ends) share one runtime; the forwarder under test has a
    // thread of its own (see `procfs::DedicatedRuntime`).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (baseline, sfu) = runtime.block_on(async {
        let baseline = match args.baseline {
            Baseline::Relay => Some(topologies::through_plain_relays(shape).await?),
            Baseline::None => None,
        };
        let sfu = topologies::through_the_sfu(shape).await?;
        anyhow::Ok((baseline, sfu))
    })?;
    // webrtc-rs drivers left detached would keep the runtime's threads busy.
    runtime.shutdown_timeout(Duration::from_secs(2));

    let load = (load_before, load_average());
    if args.json {
        let json = json(&args, load, &sfu, baseline.as_ref());
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_table(&args, load, &sfu, baseline.as_ref());
    }
    Ok(())
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A table row: label, what it shows of a run, and decimals.
type Row = (&'static str, fn(&RunReport) -> f64, usize);

fn print_table(args: &Args, load: (f64, f64), sfu: &RunReport, baseline: Option<&RunReport>) {
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    println!(
        "forwarding_bench: {} publishers x {} subscribers, {} fps, {} kbit/s, payloads <= {} B, \
         {:.1} s window, {cores} cores, load average {:.2} -> {:.2}",
        args.publishers,
        args.subscribers,
        args.fps,
        args.bitrate / 1000,
        args.payload,
        sfu.window.seconds(),
        load.0,
        load.1
    );
    let runs: Vec<&RunReport> = baseline.into_iter().chain([sfu]).collect();
    for run in &runs {
        println!("  {:<9} {}", run.name, run.topology);
    }
    print!("{:<34}", "");
    for run in &runs {
        print!("{:>14}", run.name);
    }
    if baseline.is_some() {
        print!("{:>16}", "sfu / baseline");
    }
    println!();
    let rows: [Row; 13] = [
        ("forwarded packets/s", RunReport::forwarded_per_second, 0),
        ("forwarder CPU (cores)", RunReport::forwarder_cores, 3),
        (
            "forwarder CPU per packet (us)",
            |r| r.cpu_per_packet().as_secs_f64() * 1e6,
            2,
        ),
        ("packets/s per core", RunReport::packets_per_core_second, 0),
        ("whole process CPU (cores)", RunReport::process_cores, 3),
        ("packets sent in window", |r| r.sent() as f64, 0),
        ("packets received", |r| r.received() as f64, 0),
        ("loss (%)", |r| r.loss() * 100.0, 3),
        (
            "worst subscriber loss (%)",
            |r| r.worst_subscriber_loss() * 100.0,
            3,
        ),
        (
            "SFU socket receive drops",
            |r| r.forwarder_socket_drops.unwrap_or(0) as f64,
            0,
        ),
        (
            "all UDP receive-buffer drops",
            |r| r.receive_buffer_drops as f64,
            0,
        ),
        ("latency p50 (ms)", |r| millis(r.latency_percentile(50)), 2),
        ("latency p99 (ms)", |r| millis(r.latency_percentile(99)), 2),
    ];
    for (label, value, decimals) in rows {
        print!("{label:<34}");
        for run in &runs {
            print!("{:>14}", format!("{:.decimals$}", value(run)));
        }
        if let Some(baseline) = baseline {
            let (base, ours) = (value(baseline), value(sfu));
            if base != 0.0 {
                print!("{:>16}", format!("{:.2}x", ours / base));
            }
        }
        println!();
    }
    if let Some(baseline) = baseline {
        println!(
            "{:<34}{:>14}",
            "added latency p50 / p99 (ms)",
            format!(
                "{:.2} / {:.2}",
                millis(sfu.latency_percentile(50)) - millis(baseline.latency_percentile(50)),
                millis(sfu.latency_percentile(99)) - millis(baseline.latency_percentile(99)),
            )
        );
    }
    println!("per subscriber (sent/received in the window, sfu):");
    for (subscriber_idx, (sent, received)) in sfu.per_subscriber.iter().enumerate() {
        println!("  subscriber-{subscriber_idx:<3} {sent:>8} {received:>8}");
    }
}

fn run_json(run: &RunReport) -> serde_json::Value {
    serde_json::json!({
        "topology": run.topology,
        "window_seconds": run.window.seconds(),
        "forwarded_packets": run.forwarded_packets,
        "forwarded_packets_per_second": run.forwarded_per_second(),
        "forwarder_cpu_seconds": run.forwarder_cpu.as_secs_f64(),
        "forwarder_cores": run.forwarder_cores(),
        "forwarder_cpu_per_packet_us": run.cpu_per_packet().as_secs_f64() * 1e6,
        "packets_per_core_second": run.packets_per_core_second(),
        "process_cores": run.process_cores(),
        "sent": run.sent(),
        "received": run.received(),
        "loss": run.loss(),
        "worst_subscriber_loss": run.worst_subscriber_loss(),
        "forwarder_socket_receive_drops": run.forwarder_socket_drops,
        "udp_receive_buffer_drops": run.receive_buffer_drops,
        "per_subscriber": run.per_subscriber.iter()
            .map(|(sent, received)| serde_json::json!({"sent": sent, "received": received}))
            .collect::<Vec<_>>(),
        "latency_ms": {
            "p50": millis(run.latency_percentile(50)),
            "p99": millis(run.latency_percentile(99)),
            "max": millis(run.latency_percentile(100)),
            "samples": run.latencies.len(),
        },
    })
}

fn json(
    args: &Args,
    load: (f64, f64),
    sfu: &RunReport,
    baseline: Option<&RunReport>,
) -> serde_json::Value {
    let added = baseline.map(|baseline| {
        serde_json::json!({
            "p50": millis(sfu.latency_percentile(50)) - millis(baseline.latency_percentile(50)),
            "p99": millis(sfu.latency_percentile(99)) - millis(baseline.latency_percentile(99)),
        })
    });
    serde_json::json!({
        "publishers": args.publishers,
        "subscribers": args.subscribers,
        "fps": args.fps,
        "bits_per_second": args.bitrate,
        "max_payload_bytes": args.payload,
        "cores": std::thread::available_parallelism().map_or(0, usize::from),
        "load_average": {"before": load.0, "after": load.1},
        "sfu": run_json(sfu),
        "baseline": baseline.map(run_json),
        "added_latency_ms": added,
    })
}
