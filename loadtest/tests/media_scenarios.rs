//! The `media` and `join-storm` scenarios end to end against a real `convene serve` (SQLite,
//! in-process bus and SFU node) started here as a child process: headless webrtc-rs
//! participants join real meetings through the public protocol, and the reports count joins,
//! forwarded packets and errors. Nothing here is timed: the numbers are for docs/benchmarks.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use convene_loadtest::processes::{self, ConveneServer};
use convene_loadtest::progress::LiveCounters;
use convene_loadtest::scenarios::join_storm::{self, JoinStormConfig};
use convene_loadtest::scenarios::media::{self, MediaConfig};

/// The `convene` binary: `$CONVENE_BIN`, else the one Cargo built next to this test
/// (`cargo build -p convene-server`, which the workspace's test run does).
fn convene_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CONVENE_BIN") {
        return PathBuf::from(path);
    }
    let test_binary = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/<this test> → target/<profile>/convene
    let profile_dir = test_binary
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the test binary lives in target/<profile>/deps");
    let binary = profile_dir.join("convene");
    assert!(
        binary.is_file(),
        "{} is missing: run `cargo build -p convene-server` first, or set CONVENE_BIN",
        binary.display()
    );
    binary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_and_join_storm_run_end_to_end_against_convene_serve() {
    let dir = processes::work_dir().unwrap();
    let server = ConveneServer::serve(&convene_binary(), dir.path())
        .await
        .unwrap();

    // Three participants in one meeting, each publishing a camera and a microphone.
    let config = MediaConfig {
        meetings: 1,
        participants_per_meeting: 3,
        duration: Duration::from_secs(3),
        ..MediaConfig::default()
    };
    let report = media::run(&server.base_url, &config, Arc::new(LiveCounters::default()))
        .await
        .unwrap();
    let summary = media::summary(&report);
    println!("{summary}");
    assert_eq!(report.participants_joined, 3, "{summary}");
    assert!(report.join_failures.is_empty(), "{summary}");
    assert!(report.errors.is_empty(), "{summary}");
    assert!(report.warmed_up, "{summary}");
    // Three cameras, each to two others.
    assert_eq!(report.video_flows, 6, "{summary}");
    assert!(report.video_packets_received > 0, "{summary}");
    assert!(report.received_packets_per_second > 0.0, "{summary}");
    assert!(report.media_latency.count > 0, "{summary}");
    assert_eq!(report.first_media_latency.count, 3, "{summary}");
    // `convene serve` exposes its in-process node's counters on /metrics.
    assert!(
        report
            .node_forwarded_packets_per_second
            .is_some_and(|rate| rate > 0.0),
        "{summary}"
    );

    // Eight users into two meetings within half a second, publishing and waiting for media.
    let config = JoinStormConfig {
        meetings: 2,
        users: 8,
        within: Duration::from_millis(500),
        media: true,
        ..JoinStormConfig::default()
    };
    let report = join_storm::run(&server.base_url, &config, Arc::new(LiveCounters::default()))
        .await
        .unwrap();
    let summary = join_storm::summary(&report);
    println!("{summary}");
    assert_eq!(report.joined, 8, "{summary}");
    assert!(report.failures.is_empty(), "{summary}");
    assert!(report.errors.is_empty(), "{summary}");
    assert_eq!(report.join_latency.count, 8, "{summary}");
    assert_eq!(
        report
            .first_media_latency
            .as_ref()
            .map(|latency| latency.count),
        Some(8),
        "{summary}"
    );

    // A storm without media: joins only, and everyone leaves cleanly.
    let config = JoinStormConfig {
        meetings: 3,
        users: 12,
        within: Duration::ZERO,
        media: false,
        ..JoinStormConfig::default()
    };
    let report = join_storm::run(&server.base_url, &config, Arc::new(LiveCounters::default()))
        .await
        .unwrap();
    let summary = join_storm::summary(&report);
    println!("{summary}");
    assert_eq!(report.joined, 12, "{summary}");
    assert!(report.failures.is_empty(), "{summary}");
    assert!(report.errors.is_empty(), "{summary}");
    assert!(report.first_media_latency.is_none(), "{summary}");
}
