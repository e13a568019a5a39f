//! Every reconcile path against the mock apiserver: the exact requests (asserted by the
//! [`Scenario`]) and their effect on a real in-process bus standing in for the SFU pods.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use convene_bus::{Bus, InProcessBus, NodeState, PlacementPolicy};

use super::*;
use crate::crd::SfuPoolStatus;
use crate::fixtures::{Scenario, TestPod, mock_client, record};
use uuid::Uuid;

fn context(client: Client, bus: Arc<dyn Bus>) -> Context {
    let context = Context::new(client, bus, Arc::new(Metrics::new()), "test".to_owned());
    context.leading.store(true, Ordering::SeqCst);
    context
}

/// Runs one reconcile of `pool` against `scenario`; fails the test when the requests are
/// not exactly the scenario's. Returns the plan and the statuses written.
async fn reconcile_against<B: Bus>(
    pool: &SfuPool,
    scenario: Scenario,
    bus: &Arc<B>,
    now: DateTime<Utc>,
) -> (Plan, Vec<SfuPoolStatus>) {
    let (client, verifier) = mock_client();
    let verifier = verifier.run(scenario);
    let context = context(client, bus.clone());
    let reconciled =
        tokio::time::timeout(Duration::from_secs(10), reconcile_pool(pool, &context, now))
            .await
            .expect("the reconcile hung");
    let statuses = verifier
        .await
        .expect("the mock apiserver panicked")
        .unwrap_or_else(|problem| panic!("unexpected apiserver traffic: {problem}"));
    let plan = reconciled.unwrap_or_else(|error| panic!("reconcile failed: {error:?}"));
    (plan, statuses)
}

async fn heartbeat(bus: &dyn Bus, name: &str, rooms: u64, now: DateTime<Utc>) -> Uuid {
    let node = record(name, rooms, rooms * 4, now);
    bus.sfu_heartbeat(&node).await.unwrap();
    node.id
}

fn condition<'a>(status: &'a SfuPoolStatus, type_: &str) -> (&'a str, &'a str) {
    let condition = status
        .conditions
        .iter()
        .find(|condition| condition.type_ == type_)
        .unwrap();
    (condition.status.as_str(), condition.reason.as_str())
}

#[tokio::test]
async fn creating_a_pool_creates_its_pods_and_writes_the_status() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    let mut pool = SfuPool::test().with_replicas(3);
    pool.spec.placement = crate::crd::Placement::Packed;
    let scenario = Scenario::CreatePods {
        pods: vec![],
        creates: 3,
    };
    let (plan, statuses) = reconcile_against(&pool, scenario, &bus, now).await;
    assert_eq!(plan.create, 3);
    let status = &statuses[0];
    assert_eq!(status.replicas, 0);
    assert_eq!(status.selector, "convene.dev/sfupool=main");
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(condition(status, "Ready"), ("False", "PodsNotReady"));
    assert_eq!(
        condition(status, "ScalingLimited"),
        ("False", "WithinLimits")
    );
    assert_eq!(condition(status, "Degraded"), ("False", "Healthy"));
    assert_eq!(
        bus.sfu_placement_policy().await.unwrap(),
        Some(PlacementPolicy::Packed)
    );
}

#[tokio::test]
async fn a_full_pool_scales_up_from_the_load_its_pods_report() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    heartbeat(bus.as_ref(), "main-aaaaa", 18, now).await;
    heartbeat(bus.as_ref(), "main-bbbbb", 18, now).await;
    let pool = SfuPool::test()
        .with_replicas(2)
        .with_buffer(Some(5), None, None);
    let pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now).pod(),
    ];
    // 36 rooms + 5 free need ceil(41 / 20) = 3 pods.
    let scenario = Scenario::CreatePods { pods, creates: 1 };
    let (plan, statuses) = reconcile_against(&pool, scenario, &bus, now).await;
    assert_eq!(plan.desired_replicas, 3);
    assert_eq!(statuses[0].rooms, 36);
    assert_eq!(statuses[0].utilization, "90%");
    assert_eq!(condition(&statuses[0], "Ready"), ("False", "PodsNotReady"));
}

#[tokio::test]
async fn scale_down_drains_the_emptiest_pod_on_the_pod_and_in_the_bus() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    heartbeat(bus.as_ref(), "main-aaaaa", 3, now).await;
    heartbeat(bus.as_ref(), "main-bbbbb", 0, now).await;
    let pool = SfuPool::test().with_replicas(1);
    let pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now).pod(),
    ];
    let scenario = Scenario::Drain {
        pods,
        drained: vec!["main-bbbbb".to_owned()],
    };
    reconcile_against(&pool, scenario, &bus, now).await;
    assert!(bus.sfu_drain_requested("main-bbbbb").await.unwrap());
    assert!(!bus.sfu_drain_requested("main-aaaaa").await.unwrap());
}

#[tokio::test]
async fn a_draining_pod_hosting_rooms_is_kept_until_its_deadline_and_deleted_after() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    heartbeat(bus.as_ref(), "main-aaaaa", 1, now).await;
    let mut busy = record("main-bbbbb", 2, 8, now);
    busy.state = NodeState::Draining;
    bus.sfu_heartbeat(&busy).await.unwrap();
    let pool = SfuPool::test().with_replicas(1);
    let pods_draining_for = |seconds| {
        vec![
            TestPod::ready("main-aaaaa", now).pod(),
            TestPod::ready("main-bbbbb", now)
                .draining_since(now - TimeDelta::seconds(seconds))
                .pod(),
        ]
    };

    // First sight: nothing to do but write the status...
    let scenario = Scenario::NoChange {
        pods: pods_draining_for(600),
        status_patched: true,
    };
    let (_, statuses) = reconcile_against(&pool, scenario, &bus, now).await;
    assert_eq!(statuses[0].draining_replicas, 1);
    assert_eq!(statuses[0].rooms, 3);
    assert_eq!(condition(&statuses[0], "Ready"), ("True", "PodsReady"));
    // ...and with that status in place, a reconcile writes nothing at all.
    let pool = pool.with_status(statuses[0].clone());
    let scenario = Scenario::NoChange {
        pods: pods_draining_for(600),
        status_patched: false,
    };
    reconcile_against(&pool, scenario, &bus, now).await;

    // Past the deadline it goes, rooms or not, with a short grace (its drain is over).
    let scenario = Scenario::Delete {
        pods: pods_draining_for(3600),
        forgotten: 0,
        deleted: vec![("main-bbbbb".to_owned(), "DrainDeadline", Some(30))],
        creates: 0,
        status_patched: false,
    };
    reconcile_against(&pool, scenario, &bus, now).await;
}

#[tokio::test]
async fn an_empty_draining_pod_is_deleted_with_its_full_grace_period() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    heartbeat(bus.as_ref(), "main-aaaaa", 1, now).await;
    let mut empty = record("main-bbbbb", 0, 0, now);
    empty.state = NodeState::Draining;
    bus.sfu_heartbeat(&empty).await.unwrap();
    let pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now)
            .draining_since(now - TimeDelta::seconds(30))
            .pod(),
    ];
    let scenario = Scenario::Delete {
        pods,
        forgotten: 0,
        deleted: vec![("main-bbbbb".to_owned(), "Drained", None)],
        creates: 0,
        status_patched: true,
    };
    reconcile_against(&SfuPool::test().with_replicas(1), scenario, &bus, now).await;
}

#[tokio::test]
async fn a_failed_pod_is_replaced_and_its_room_claims_released_for_the_gateways() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    let live = heartbeat(bus.as_ref(), "main-aaaaa", 0, now).await;
    let mut crashed = record("main-bbbbb", 1, 4, now);
    crashed.heartbeat_at = now - TimeDelta::seconds(4);
    bus.sfu_heartbeat(&crashed).await.unwrap();
    // The room was placed on the node that then crashed.
    let placed = bus
        .sfu_claim_room(
            "room-1",
            PlacementPolicy::Distributed,
            &[live],
            now - TimeDelta::seconds(5),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(placed.id, crashed.id);

    let pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now).failed().pod(),
    ];
    let scenario = Scenario::Delete {
        pods,
        forgotten: 1,
        deleted: vec![("main-bbbbb".to_owned(), "PodFailed", Some(30))],
        creates: 1,
        status_patched: true,
    };
    let (_, statuses) = reconcile_against(&SfuPool::test(), scenario, &bus, now).await;
    assert_eq!(
        condition(&statuses[0], "Degraded"),
        ("True", "PodsReplaced")
    );

    let remaining: Vec<_> = bus
        .sfu_all_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|(node, _)| node.id)
        .collect();
    assert_eq!(remaining, [live]);
    let replaced = bus
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.id, live, "the room is placed again on a live node");
}

/// A `redis-server` of the test's own on a free loopback port, stopped when dropped.
struct ThrowawayRedis {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl ThrowawayRedis {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
            ])
            .args(["--appendonly", "no", "--dir"])
            .arg(dir.path())
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("this test needs redis-server on the PATH");
        // Connect only once it listens: the bus's reconnect backoff would outlast the test.
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "redis-server never listened"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for ThrowawayRedis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The same cleanup through the real Redis bus the pods and gateways share (a throwaway
/// redis-server, so nothing is left behind on anyone's Redis).
#[tokio::test]
async fn a_failed_pods_room_claims_are_released_in_redis() {
    let now = Utc::now();
    let redis = ThrowawayRedis::start();
    let bus = Arc::new(
        convene_bus::RedisBus::connect(&format!("redis://127.0.0.1:{}", redis.port)).unwrap(),
    );
    // `ping` says ready only once the subscriber connection is up too, a moment after
    // `connect`: wait for it (bounded), as a readiness probe would.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match bus.ping().await {
            Ok(()) => break,
            Err(error) if tokio::time::Instant::now() >= deadline => {
                panic!("the Redis bus was not ready within 5 s: {error:?}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let live = heartbeat(bus.as_ref(), "main-aaaaa", 0, now).await;
    let mut crashed = record("main-bbbbb", 1, 4, now);
    crashed.heartbeat_at = now - TimeDelta::seconds(4);
    bus.sfu_heartbeat(&crashed).await.unwrap();
    let placed = bus
        .sfu_claim_room(
            "room-1",
            PlacementPolicy::Distributed,
            &[live],
            now - TimeDelta::seconds(5),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(placed.id, crashed.id);

    let pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now).failed().pod(),
    ];
    let scenario = Scenario::Delete {
        pods,
        forgotten: 1,
        deleted: vec![("main-bbbbb".to_owned(), "PodFailed", Some(30))],
        creates: 1,
        status_patched: true,
    };
    reconcile_against(&SfuPool::test(), scenario, &bus, now).await;

    let remaining: Vec<_> = bus
        .sfu_all_nodes()
        .await
        .unwrap()
        .into_iter()
        .map(|(node, _)| node.id)
        .collect();
    assert_eq!(remaining, [live]);
    let replaced = bus
        .sfu_claim_room("room-1", PlacementPolicy::Distributed, &[], now)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(replaced.id, live);
    assert_eq!(
        bus.sfu_placement_policy().await.unwrap(),
        Some(PlacementPolicy::Distributed)
    );
    bus.close().await;
}

#[tokio::test]
async fn a_ready_pod_that_stopped_heartbeating_is_replaced_and_forgotten() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    heartbeat(bus.as_ref(), "main-aaaaa", 0, now).await;
    let mut silent = record("main-bbbbb", 3, 12, now);
    silent.heartbeat_at = now - TimeDelta::seconds(45);
    bus.sfu_heartbeat(&silent).await.unwrap();
    // First seen silent: the pod is only marked, with the time, on the pod itself.
    let scenario = Scenario::HeartbeatMissing {
        pods: vec![
            TestPod::ready("main-aaaaa", now).pod(),
            TestPod::ready("main-bbbbb", now).pod(),
        ],
        registry_event: false,
        marked: vec!["main-bbbbb".to_owned()],
        cleared: vec![],
        status_patched: true,
    };
    let (plan, _) = reconcile_against(&SfuPool::test(), scenario, &bus, now).await;
    assert!(plan.delete.is_empty() && plan.forget_nodes.is_empty());
    assert_eq!(bus.sfu_all_nodes().await.unwrap().len(), 2);

    // Silent for the grace since it was marked (by this operator or a previous leader).
    let pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now)
            .heartbeat_missing_since(now - TimeDelta::seconds(30))
            .pod(),
    ];
    let scenario = Scenario::Delete {
        pods,
        forgotten: 1,
        deleted: vec![("main-bbbbb".to_owned(), "NoHeartbeat", Some(30))],
        creates: 1,
        status_patched: true,
    };
    reconcile_against(&SfuPool::test(), scenario, &bus, now).await;
    assert_eq!(bus.sfu_all_nodes().await.unwrap().len(), 1);
}

#[tokio::test]
async fn records_wiped_by_a_redis_restart_delete_nothing_and_report_the_outage_once() {
    let now = Utc::now();
    // Redis restarted: no record at all, every pod ready (one was already marked silent).
    let bus = Arc::new(InProcessBus::new());
    let pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now)
            .heartbeat_missing_since(now - TimeDelta::seconds(120))
            .pod(),
    ];
    let scenario = Scenario::HeartbeatMissing {
        pods: pods.clone(),
        registry_event: true,
        marked: vec![],
        cleared: vec!["main-bbbbb".to_owned()],
        status_patched: true,
    };
    let (plan, statuses) = reconcile_against(&SfuPool::test(), scenario, &bus, now).await;
    assert!(plan.registry_unavailable);
    assert!(plan.delete.is_empty() && plan.create == 0, "{plan:?}");
    assert_eq!(
        condition(&statuses[0], "Degraded"),
        ("True", "RegistryUnavailable")
    );

    // The next reconcile, still without records, announces nothing again.
    let pool = SfuPool::test().with_status(statuses[0].clone());
    let pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now).pod(),
    ];
    let scenario = Scenario::HeartbeatMissing {
        pods,
        registry_event: false,
        marked: vec![],
        cleared: vec![],
        status_patched: false,
    };
    reconcile_against(&pool, scenario, &bus, now).await;
}

#[tokio::test]
async fn the_drain_annotation_drains_a_pod_by_hand_and_removing_it_undrains() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    heartbeat(bus.as_ref(), "main-aaaaa", 1, now).await;
    let mut hand_drained = record("main-bbbbb", 5, 20, now);
    bus.sfu_heartbeat(&hand_drained).await.unwrap();
    let pool = SfuPool::test();
    let scenario = Scenario::ManualDrain {
        pods: vec![
            TestPod::ready("main-aaaaa", now).pod(),
            TestPod::ready("main-bbbbb", now).manual_drain().pod(),
        ],
        drain: true,
        creates: 1,
    };
    let (_, statuses) = reconcile_against(&pool, scenario, &bus, now).await;
    assert!(bus.sfu_drain_requested("main-bbbbb").await.unwrap());
    // Until the node reads it, the next reconciles neither repeat it nor announce it again.
    let scenario = Scenario::CreatePods {
        pods: vec![
            TestPod::ready("main-aaaaa", now).pod(),
            TestPod::ready("main-bbbbb", now).manual_drain().pod(),
        ],
        creates: 1,
    };
    reconcile_against(&pool, scenario, &bus, now).await;
    let summary = statuses[0]
        .pods
        .iter()
        .find(|pod| pod.name == "main-bbbbb")
        .unwrap();
    assert!(summary.draining);

    // The node read the request and reports draining; the annotation is removed.
    hand_drained.state = NodeState::Draining;
    bus.sfu_heartbeat(&hand_drained).await.unwrap();
    let scenario = Scenario::ManualDrain {
        pods: vec![
            TestPod::ready("main-aaaaa", now).pod(),
            TestPod::ready("main-bbbbb", now).pod(),
        ],
        drain: false,
        creates: 0,
    };
    reconcile_against(&pool, scenario, &bus, now).await;
    assert!(!bus.sfu_drain_requested("main-bbbbb").await.unwrap());
}

#[tokio::test]
async fn pods_with_the_label_but_not_owned_by_the_pool_are_ignored() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    let mut stranger = TestPod::ready("main-zzzzz", now).pod();
    stranger.metadata.owner_references = None;
    let scenario = Scenario::CreatePods {
        pods: vec![stranger],
        creates: 2,
    };
    let (_, statuses) = reconcile_against(&SfuPool::test(), scenario, &bus, now).await;
    assert_eq!(statuses[0].replicas, 0);
}

#[tokio::test]
async fn a_replica_that_does_not_lead_reconciles_nothing() {
    let bus = Arc::new(InProcessBus::new());
    // Any request would fail: the mock's handle is dropped.
    let (client, verifier) = mock_client();
    drop(verifier);
    let context = Arc::new(context(client, bus));
    context.leading.store(false, Ordering::SeqCst);
    let action = reconcile(Arc::new(SfuPool::test()), context.clone())
        .await
        .unwrap();
    assert_eq!(action, Action::requeue(context.requeue_interval));
}

#[tokio::test]
async fn a_pool_being_deleted_is_left_to_the_garbage_collector() {
    let (client, verifier) = mock_client();
    drop(verifier);
    let context = Arc::new(context(client, Arc::new(InProcessBus::new())));
    let mut pool = SfuPool::test();
    pool.metadata.deletion_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        k8s_openapi::jiff::Timestamp::now(),
    ));
    let action = reconcile(Arc::new(pool), context).await.unwrap();
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn a_failed_reconcile_is_counted_under_its_error_label_and_retried() {
    let bus = Arc::new(InProcessBus::new());
    let (client, verifier) = mock_client();
    drop(verifier);
    let context = Arc::new(context(client, bus));
    let pool = Arc::new(SfuPool::test());
    let error = reconcile(pool.clone(), context.clone()).await.unwrap_err();
    assert_eq!(error.metric_label(), "kube");
    let action = error_policy(pool, &error, context.clone());
    assert_eq!(action, Action::requeue(context.requeue_interval * 2));
    let metrics = context.metrics.encode();
    assert!(
        metrics.contains("convene_operator_reconcile_errors_total{error=\"kube\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("convene_operator_reconciles_total 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_template_change_creates_an_up_to_date_pod_then_drains_an_outdated_one() {
    let now = Utc::now();
    let bus = Arc::new(InProcessBus::new());
    heartbeat(bus.as_ref(), "main-aaaaa", 3, now).await;
    heartbeat(bus.as_ref(), "main-bbbbb", 1, now).await;
    // A `helm upgrade` to a new image; the running pods were built from the old one.
    let pool = SfuPool::test()
        .with_replicas(2)
        .with_image("ghcr.io/convene-dev/convene:0.2.0");
    let new_hash = crate::pods::template_hash(&pool).unwrap();
    assert_ne!(new_hash, crate::fixtures::current_hash());
    let old_pods = vec![
        TestPod::ready("main-aaaaa", now).pod(),
        TestPod::ready("main-bbbbb", now).pod(),
    ];

    // First an up-to-date pod beyond the two wanted; nothing is drained yet.
    let scenario = Scenario::Rollout {
        pods: old_pods.clone(),
        template_hash: new_hash.clone(),
        drained: vec![],
        creates: 1,
        started: true,
        completed: false,
    };
    let (plan, statuses) = reconcile_against(&pool, scenario, &bus, now).await;
    assert_eq!(plan.create_for_rollout, 1);
    assert_eq!(
        condition(&statuses[0], "Progressing"),
        ("True", "RollingOut")
    );
    assert_eq!(statuses[0].updated_replicas, 0);
    assert_eq!(statuses[0].template_hash, new_hash);
    assert!(!bus.sfu_drain_requested("main-bbbbb").await.unwrap());

    // Once it is ready, the emptier old pod drains, on the pod and in the bus.
    heartbeat(bus.as_ref(), "main-ccccc", 0, now).await;
    let mut new_pod = TestPod::ready("main-ccccc", now);
    new_pod.template_hash = Some(new_hash.clone());
    let mut pods = old_pods;
    pods.push(new_pod.pod());
    let pool = pool.with_status(statuses[0].clone());
    let scenario = Scenario::Rollout {
        pods,
        template_hash: new_hash.clone(),
        drained: vec!["main-bbbbb".to_owned()],
        creates: 0,
        started: false,
        completed: false,
    };
    let (_, statuses) = reconcile_against(&pool, scenario, &bus, now).await;
    assert!(bus.sfu_drain_requested("main-bbbbb").await.unwrap());
    assert!(!bus.sfu_drain_requested("main-aaaaa").await.unwrap());
    assert_eq!(statuses[0].updated_replicas, 1);

    // With only up-to-date pods left, the rollout is complete, and said so once.
    let mut newer_pod = TestPod::ready("main-ddddd", now);
    newer_pod.template_hash = Some(new_hash.clone());
    heartbeat(bus.as_ref(), "main-ddddd", 0, now).await;
    let pool = pool.with_status(statuses[0].clone());
    let scenario = Scenario::Rollout {
        pods: vec![new_pod.pod(), newer_pod.pod()],
        template_hash: new_hash,
        drained: vec![],
        creates: 0,
        started: false,
        completed: true,
    };
    let (_, statuses) = reconcile_against(&pool, scenario, &bus, now).await;
    assert_eq!(
        condition(&statuses[0], "Progressing"),
        ("False", "RolloutComplete")
    );
    assert_eq!(statuses[0].updated_replicas, 2);
}

#[test]
fn the_outdated_pods_of_a_pool_are_a_metric() {
    let metrics = Metrics::new();
    let status = SfuPoolStatus {
        replicas: 5,
        updated_replicas: 2,
        ..SfuPoolStatus::default()
    };
    metrics.observe_pool("main", &status);
    let text = metrics.encode();
    assert!(
        text.contains("convene_operator_outdated_pods{pool=\"main\"} 3"),
        "{text}"
    );
}
