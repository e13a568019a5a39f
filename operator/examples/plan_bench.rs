//! How long one `decisions::plan` takes for pools of 10 to 1000 pods (every pod ready and
//! reporting load, a buffer to keep, a quarter draining). Not a test: a measurement.
//!
//!     cargo run --release -p convene-operator --example plan_bench

use std::time::Instant;

use chrono::{TimeDelta, Utc};
use convene_operator::crd::{Buffer, Capacity, PodTemplate, SfuPoolSpec};
use convene_operator::decisions::{NodeReport, ObservedPod, PodPhase, Settings, plan};
use uuid::Uuid;

fn main() {
    let now = Utc::now();
    let spec = SfuPoolSpec {
        replicas: 2,
        min_replicas: 1,
        max_replicas: 2000,
        buffer: Some(Buffer {
            rooms: Some(10),
            participants: Some(100),
            percent: Some(20),
        }),
        capacity: Capacity {
            rooms: 20,
            participants: 200,
        },
        placement: Default::default(),
        exposure: Default::default(),
        drain_deadline_seconds: 3600,
        template: PodTemplate {
            image: "convene".to_owned(),
            ..PodTemplate::default()
        },
        rollout: None,
    };
    for n_pods in [10u64, 100, 1000] {
        let pods: Vec<ObservedPod> = (0..n_pods)
            .map(|index| ObservedPod {
                name: format!("main-{index:05}"),
                phase: PodPhase::Running,
                ready: true,
                ready_since: Some(now - TimeDelta::seconds(600)),
                not_ready_since: None,
                terminating: false,
                template_hash: Some("current".to_owned()),
                manual_drain: false,
                draining_since: (index % 4 == 0).then(|| now - TimeDelta::seconds(60)),
                heartbeat_missing_since: None,
            })
            .collect();
        let nodes: Vec<NodeReport> = (0..n_pods)
            .map(|index| NodeReport {
                node_id: Uuid::new_v4(),
                name: format!("main-{index:05}"),
                draining: index % 4 == 0,
                rooms: index % 21,
                participants: (index * 7) % 201,
                heartbeat_at: now - TimeDelta::seconds(1),
            })
            .collect();
        let rounds = 20_000 / n_pods.max(1) as u32 + 10;
        let started = Instant::now();
        let mut created = 0;
        for _ in 0..rounds {
            let plan = plan(
                "main",
                Some(1),
                &spec,
                "current",
                None,
                &pods,
                Some(&nodes),
                now,
                Settings::default(),
            );
            created += plan.create;
        }
        let per_plan = started.elapsed() / rounds;
        println!(
            "{n_pods:>5} pods: {per_plan:>10.1?} per plan ({rounds} rounds, {created} pods planned)"
        );
    }
}
