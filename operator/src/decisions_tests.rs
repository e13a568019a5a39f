//! The scaling, drain and cleanup rules, as behaviours and as properties.

use chrono::TimeDelta;
use proptest::prelude::*;

use super::*;
use crate::crd::Condition;
use crate::crd::SfuPool;
use crate::fixtures::{TestPod, current_hash, node};
use crate::plan_fixtures::{World, apply, now, plan_for, plan_world};
use crate::status::status_changed;

fn condition<'a>(plan: &'a Plan, type_: &str) -> &'a Condition {
    plan.status
        .conditions
        .iter()
        .find(|condition| condition.type_ == type_)
        .unwrap()
}

fn drained(plan: &Plan) -> Vec<&str> {
    plan.start_drain
        .iter()
        .map(|drain| drain.pod.as_str())
        .collect()
}

#[test]
fn a_new_pool_without_buffer_creates_exactly_its_replicas() {
    let plan = plan_for(&SfuPool::test().with_replicas(3), &[], &[]);
    assert_eq!(plan.desired_replicas, 3);
    assert_eq!(plan.create, 3);
    assert_eq!(condition(&plan, "Ready").status, "False");
    assert_eq!(condition(&plan, "ScalingLimited").status, "False");
}

#[test]
fn replicas_are_clamped_to_min_and_max() {
    let pool = SfuPool::test().with_limits(2, 4);
    assert_eq!(
        plan_for(&pool.clone().with_replicas(0), &[], &[]).desired_replicas,
        2
    );
    assert_eq!(
        plan_for(&pool.with_replicas(9), &[], &[]).desired_replicas,
        4
    );
}

#[test]
fn pending_pods_count_as_capacity_being_added_so_nothing_is_created_twice() {
    let pods = [
        TestPod::pending("main-aaaaa"),
        TestPod::pending("main-bbbbb"),
    ];
    let plan = plan_for(&SfuPool::test().with_replicas(3), &pods, &[]);
    assert_eq!(plan.create, 1);
}

#[test]
fn full_pods_scale_the_pool_up_to_keep_the_buffer_free() {
    let now = now();
    // 2 pods of 20 rooms hold 36; 4 free rooms wanted: ceil(40 / 20) = 2 is enough...
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now),
    ];
    let pool = SfuPool::test()
        .with_replicas(1)
        .with_buffer(Some(4), None, None);
    let nodes = [
        node("main-aaaaa", 18, 40, now),
        node("main-bbbbb", 18, 40, now),
    ];
    assert_eq!(plan_for(&pool, &pods, &nodes).create, 0);
    // ...and one more room needs a third pod.
    let nodes = [
        node("main-aaaaa", 19, 40, now),
        node("main-bbbbb", 18, 40, now),
    ];
    let plan = plan_for(&pool, &pods, &nodes);
    assert_eq!(plan.desired_replicas, 3);
    assert_eq!(plan.create, 1);
}

#[test]
fn the_largest_buffer_need_wins() {
    let spec = SfuPool::test().spec;
    let buffer = |rooms, participants, percent| crate::crd::Buffer {
        rooms,
        participants,
        percent,
    };
    // 10 rooms, 100 participants on pods of 20/200.
    assert_eq!(
        pods_needed_for_buffer(&spec, &buffer(Some(10), None, None), 10, 100),
        1
    );
    assert_eq!(
        pods_needed_for_buffer(&spec, &buffer(Some(11), None, None), 10, 100),
        2
    );
    assert_eq!(
        pods_needed_for_buffer(&spec, &buffer(None, Some(350), None), 10, 100),
        3
    );
    // 50% free: 100 participants need 200 of capacity in use at most half: 1 pod exactly.
    assert_eq!(
        pods_needed_for_buffer(&spec, &buffer(None, None, Some(50)), 10, 100),
        1
    );
    assert_eq!(
        pods_needed_for_buffer(&spec, &buffer(None, None, Some(50)), 10, 101),
        2
    );
    assert_eq!(
        pods_needed_for_buffer(&spec, &buffer(Some(1), Some(1), Some(90)), 10, 100),
        5
    );
}

#[test]
fn a_need_beyond_max_replicas_is_capped_and_reported() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now),
    ];
    let pool = SfuPool::test()
        .with_limits(1, 2)
        .with_buffer(Some(10), None, None);
    let nodes = [
        node("main-aaaaa", 20, 40, now),
        node("main-bbbbb", 20, 40, now),
    ];
    let plan = plan_for(&pool, &pods, &nodes);
    assert_eq!(plan.desired_replicas, 2);
    assert_eq!(plan.create, 0);
    let limited = condition(&plan, "ScalingLimited");
    assert_eq!(
        (limited.status.as_str(), limited.reason.as_str()),
        ("True", "MaxReplicas")
    );
    assert!(
        limited.message.contains("need 3 pods"),
        "{}",
        limited.message
    );
}

#[test]
fn scale_down_drains_the_emptiest_pods_never_one_with_rooms_while_an_empty_one_can_go() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now),
        TestPod::ready("main-ccccc", now),
        TestPod::ready("main-ddddd", now),
    ];
    let nodes = [
        node("main-aaaaa", 3, 12, now),
        node("main-bbbbb", 0, 0, now),
        node("main-ccccc", 1, 2, now),
        node("main-ddddd", 0, 0, now),
    ];
    let plan = plan_for(&SfuPool::test().with_replicas(1), &pods, &nodes);
    assert_eq!(drained(&plan), ["main-bbbbb", "main-ddddd", "main-ccccc"]);
    assert!(
        plan.delete.is_empty(),
        "a pod is never deleted in the reconcile that drains it"
    );
    assert!(
        plan.bus_drain_requests
            .contains(&("main-ccccc".to_owned(), true))
    );
}

#[test]
fn a_draining_pod_is_deleted_once_empty_and_its_node_stopped_taking_rooms() {
    let now = now();
    let since = now - TimeDelta::seconds(60);
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).draining_since(since),
    ];
    let pool = SfuPool::test().with_replicas(1);
    // The node has not read the drain request yet: a gateway may still place a room on it.
    let not_yet = [node("main-aaaaa", 1, 2, now), node("main-bbbbb", 0, 0, now)];
    let plan = plan_for(&pool, &pods, &not_yet);
    assert!(plan.delete.is_empty());
    assert_eq!(plan.bus_drain_requests, [("main-bbbbb".to_owned(), true)]);

    let mut draining = node("main-bbbbb", 0, 0, now);
    draining.draining = true;
    let plan = plan_for(&pool, &pods, &[node("main-aaaaa", 1, 2, now), draining]);
    assert_eq!(
        plan.delete,
        [Deletion {
            pod: "main-bbbbb".to_owned(),
            reason: DeleteReason::Drained,
            rooms: 0
        }]
    );
}

#[test]
fn a_draining_pod_with_rooms_stays_until_its_deadline_then_goes() {
    let now = now();
    let pool = SfuPool::test().with_replicas(1).with_drain_deadline(600);
    let mut busy = node("main-bbbbb", 2, 9, now);
    busy.draining = true;
    let nodes = [node("main-aaaaa", 0, 0, now), busy];
    let before_deadline = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).draining_since(now - TimeDelta::seconds(599)),
    ];
    let plan = plan_for(&pool, &before_deadline, &nodes);
    assert!(plan.changes_nothing(), "{plan:?}");
    assert_eq!(plan.status.draining_replicas, 1);

    let past_deadline = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).draining_since(now - TimeDelta::seconds(600)),
    ];
    let plan = plan_for(&pool, &past_deadline, &nodes);
    assert_eq!(
        plan.delete,
        [Deletion {
            pod: "main-bbbbb".to_owned(),
            reason: DeleteReason::DrainDeadline,
            rooms: 2
        }]
    );
    assert_eq!(plan.create, 0);
}

#[test]
fn a_draining_pod_whose_node_missed_a_few_heartbeats_is_not_taken_for_empty() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).draining_since(now - TimeDelta::seconds(60)),
    ];
    let mut blip = node("main-bbbbb", 3, 12, now);
    blip.draining = true;
    blip.heartbeat_at = now - TimeDelta::seconds(10);
    let plan = plan_for(
        &SfuPool::test().with_replicas(1),
        &pods,
        &[node("main-aaaaa", 0, 0, now), blip],
    );
    assert!(plan.delete.is_empty(), "{plan:?}");
    assert_eq!(plan.status.rooms, 3);
}

#[test]
fn a_scale_up_during_a_drain_returns_the_draining_pod_to_service_before_creating() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).draining_since(now - TimeDelta::seconds(60)),
    ];
    let nodes = [node("main-aaaaa", 1, 2, now), node("main-bbbbb", 1, 2, now)];
    let plan = plan_for(&SfuPool::test().with_replicas(3), &pods, &nodes);
    assert_eq!(plan.undrain, ["main-bbbbb"]);
    assert_eq!(plan.create, 1);
    // The node still reports ready (it never read the drain): no request needed.
    assert!(plan.bus_drain_requests.is_empty());
}

#[test]
fn a_failed_pod_is_replaced_and_its_room_claims_released() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).failed(),
    ];
    let mut dead = node("main-bbbbb", 4, 20, now);
    dead.heartbeat_at = now - TimeDelta::seconds(20);
    let nodes = [node("main-aaaaa", 1, 2, now), dead.clone()];
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(plan.delete[0].reason, DeleteReason::Failed);
    assert_eq!(plan.create, 1);
    assert_eq!(plan.forget_nodes.len(), 1);
    assert_eq!(plan.forget_nodes[0].node_id, dead.node_id);
    let degraded = condition(&plan, "Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "PodsReplaced")
    );
}

#[test]
fn a_ready_pod_whose_node_stopped_heartbeating_is_replaced_after_the_grace() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now),
    ];
    let mut silent = node("main-bbbbb", 3, 10, now);
    silent.heartbeat_at = now - TimeDelta::seconds(20);
    let within_grace = plan_for(
        &SfuPool::test(),
        &pods,
        &[node("main-aaaaa", 0, 0, now), silent.clone()],
    );
    assert!(within_grace.changes_nothing(), "{within_grace:?}");

    silent.heartbeat_at = now - TimeDelta::seconds(31);
    let plan = plan_for(
        &SfuPool::test(),
        &pods,
        &[node("main-aaaaa", 0, 0, now), silent.clone()],
    );
    // Silent past the grace, but the operator only sees it now: it marks the pod and
    // waits, keeping its record (and so its room claims).
    assert!(
        plan.delete.is_empty() && plan.forget_nodes.is_empty(),
        "{plan:?}"
    );
    assert_eq!(plan.mark_heartbeat_missing, ["main-bbbbb"]);
    assert!(!plan.registry_unavailable);

    // Seen silent for less than the grace: kept, still marked (not marked again).
    let nodes = [node("main-aaaaa", 0, 0, now), silent.clone()];
    let marked = |ago: i64| {
        [
            TestPod::ready("main-aaaaa", now),
            TestPod::ready("main-bbbbb", now)
                .heartbeat_missing_since(now - TimeDelta::seconds(ago)),
        ]
    };
    let plan = plan_for(&SfuPool::test(), &marked(29), &nodes);
    assert!(plan.changes_nothing(), "{plan:?}");
    assert!(plan.mark_heartbeat_missing.is_empty() && plan.clear_heartbeat_missing.is_empty());

    // Seen silent for the grace: replaced, and its claims released.
    let plan = plan_for(&SfuPool::test(), &marked(30), &nodes);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(plan.delete[0].pod, "main-bbbbb");
    assert_eq!(plan.delete[0].reason, DeleteReason::NoHeartbeat);
    assert_eq!(plan.forget_nodes.len(), 1);
    assert_eq!(plan.forget_nodes[0].node_id, silent.node_id);
    assert_eq!(plan.create, 1);
    let degraded = condition(&plan, "Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "PodsReplaced")
    );

    // A marked pod that never registered at all is dead too.
    let plan = plan_for(
        &SfuPool::test(),
        &marked(30),
        &[node("main-aaaaa", 0, 0, now)],
    );
    assert_eq!(plan.delete[0].reason, DeleteReason::NoHeartbeat);

    // A marked pod whose node heartbeats again loses the mark.
    let plan = plan_for(
        &SfuPool::test(),
        &marked(300),
        &[
            node("main-aaaaa", 0, 0, now),
            node("main-bbbbb", 3, 10, now),
        ],
    );
    assert!(plan.delete.is_empty() && plan.forget_nodes.is_empty() && plan.create == 0);
    assert_eq!(plan.clear_heartbeat_missing, ["main-bbbbb"]);
}

#[test]
fn records_wiped_by_a_redis_restart_delete_nothing_and_report_the_outage() {
    let now = now();
    let pool = SfuPool::test()
        .with_replicas(3)
        .with_buffer(Some(2), None, None);
    // Every pod ready for long, two with rooms, one marked silent long ago; one failed.
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).heartbeat_missing_since(now - TimeDelta::seconds(600)),
        TestPod::ready("main-ccccc", now).draining_since(now - TimeDelta::seconds(60)),
        TestPod::ready("main-ddddd", now).failed(),
    ];
    for nodes in [Some(&[][..]), None] {
        let observed: Vec<ObservedPod> = pods.iter().map(TestPod::observed).collect();
        let plan = plan(
            "main",
            pool.metadata.generation,
            &pool.spec,
            &current_hash(),
            None,
            &observed,
            nodes,
            now,
            Settings::default(),
        );
        assert!(plan.registry_unavailable);
        // Only the failed pod goes (Kubernetes says so), and is replaced.
        assert_eq!(plan.delete.len(), 1, "{plan:?}");
        assert_eq!(plan.delete[0].reason, DeleteReason::Failed);
        assert_eq!(plan.create, 1);
        assert!(plan.start_drain.is_empty() && plan.undrain.is_empty());
        assert!(plan.forget_nodes.is_empty());
        // Silence is timed afresh once the records are back.
        assert!(plan.mark_heartbeat_missing.is_empty());
        assert_eq!(plan.clear_heartbeat_missing, ["main-bbbbb"]);
        let degraded = condition(&plan, "Degraded");
        assert_eq!(
            (degraded.status.as_str(), degraded.reason.as_str()),
            ("True", "RegistryUnavailable")
        );
    }

    // The first node back ends the outage; the others are only marked, not deleted.
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now),
    ];
    let plan = plan_for(&pool, &pods, &[node("main-aaaaa", 1, 2, now)]);
    assert!(!plan.registry_unavailable);
    assert!(plan.delete.is_empty(), "{plan:?}");
    assert_eq!(plan.mark_heartbeat_missing, ["main-bbbbb"]);
}

#[test]
fn a_pod_stuck_not_ready_past_the_bound_stops_counting_and_keeps_the_pool_degraded() {
    let now = now();
    let nodes = [node("main-aaaaa", 0, 0, now)];
    // Pending for 5 minutes: still capacity being added.
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::pending("main-bbbbb").not_ready_since(now - TimeDelta::minutes(5)),
    ];
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    assert!(plan.changes_nothing() && plan.stuck.is_empty(), "{plan:?}");
    assert_eq!(condition(&plan, "Degraded").status, "False");

    // Pending for 11 minutes: not capacity any more; a pod is created in its place, and it
    // is kept (its replacement would probably be stuck the same way).
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::pending("main-bbbbb").not_ready_since(now - TimeDelta::minutes(11)),
    ];
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    assert_eq!(plan.stuck, ["main-bbbbb"]);
    assert_eq!(plan.create, 1);
    assert!(plan.delete.is_empty());
    let degraded = condition(&plan, "Degraded");
    assert_eq!(
        (degraded.status.as_str(), degraded.reason.as_str()),
        ("True", "PodsNotReady")
    );
    assert!(degraded.message.contains("main-bbbbb"), "{degraded:?}");

    // The next reconcile sees the new pod pending: nothing more created, still degraded.
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::pending("main-bbbbb").not_ready_since(now - TimeDelta::minutes(11)),
        TestPod::pending("main-ccccc"),
    ];
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    assert_eq!(plan.create, 0);
    assert_eq!(condition(&plan, "Degraded").reason, "PodsNotReady");

    // A ready pod that lost its readiness 11 minutes ago is stuck too.
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).not_ready_since(now - TimeDelta::minutes(11)),
    ];
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    assert_eq!(plan.stuck, ["main-bbbbb"]);

    // Stuck pods still count against maxReplicas + maxSurge: no batch after batch.
    let pool = SfuPool::test().with_limits(1, 2);
    let pods = [
        TestPod::pending("main-bbbbb").not_ready_since(now - TimeDelta::minutes(30)),
        TestPod::pending("main-ccccc").not_ready_since(now - TimeDelta::minutes(20)),
        TestPod::pending("main-ddddd").not_ready_since(now - TimeDelta::minutes(11)),
    ];
    let plan = plan_for(&pool, &pods, &[]);
    assert_eq!(plan.stuck.len(), 3);
    assert_eq!(plan.create, 0, "{plan:?}");
}

#[test]
fn stale_records_of_gone_or_restarted_pods_are_forgotten_and_other_pools_are_left_alone() {
    let now = now();
    let stale = |name: &str| {
        let mut report = node(name, 2, 4, now);
        report.heartbeat_at = now - TimeDelta::seconds(8);
        report
    };
    let pods = [TestPod::ready("main-aaaaa", now)];
    let gone = stale("main-zzzzz");
    let restarted_old = stale("main-aaaaa");
    let nodes = [
        gone.clone(),
        restarted_old.clone(),
        node("main-aaaaa", 0, 0, now),
        stale("main-x-zzzzz"),
        stale("other-zzzzz"),
        stale(""),
    ];
    let plan = plan_for(&SfuPool::test().with_replicas(1), &pods, &nodes);
    let forgotten: Vec<_> = plan
        .forget_nodes
        .iter()
        .map(|forget| forget.node_id)
        .collect();
    assert_eq!(forgotten, [gone.node_id, restarted_old.node_id]);
}

#[test]
fn a_manual_drain_asks_the_node_to_drain_and_the_pool_gets_a_replacement() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).manual_drain(),
    ];
    let nodes = [
        node("main-aaaaa", 1, 2, now),
        node("main-bbbbb", 5, 30, now),
    ];
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    assert_eq!(plan.bus_drain_requests, [("main-bbbbb".to_owned(), true)]);
    assert_eq!(plan.create, 1);
    assert!(plan.delete.is_empty());
    assert_eq!(plan.status.draining_replicas, 1);

    // Empty, the hand-drained pod still stays: it is the SRE's to delete or return.
    let mut empty = node("main-bbbbb", 0, 0, now);
    empty.draining = true;
    let plan = plan_for(
        &SfuPool::test().with_replicas(1),
        &pods,
        &[node("main-aaaaa", 1, 2, now), empty],
    );
    assert!(plan.changes_nothing(), "{plan:?}");
}

#[test]
fn removing_the_drain_annotation_returns_the_node_to_service() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now),
    ];
    let mut draining = node("main-bbbbb", 5, 30, now);
    draining.draining = true;
    let plan = plan_for(
        &SfuPool::test(),
        &pods,
        &[node("main-aaaaa", 1, 2, now), draining],
    );
    assert_eq!(plan.bus_drain_requests, [("main-bbbbb".to_owned(), false)]);
    assert!(plan.changes_nothing());
}

#[test]
fn status_counts_pods_load_and_utilization() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).draining_since(now - TimeDelta::seconds(5)),
        TestPod::pending("main-ccccc"),
        TestPod::ready("main-ddddd", now).terminating(),
    ];
    let nodes = [
        node("main-aaaaa", 4, 10, now),
        node("main-bbbbb", 2, 110, now),
    ];
    let plan = plan_for(&SfuPool::test().with_replicas(2), &pods, &nodes);
    let status = &plan.status;
    assert_eq!(status.replicas, 3);
    assert_eq!(status.ready_replicas, 2);
    assert_eq!(status.draining_replicas, 1);
    assert_eq!((status.rooms, status.participants), (6, 120));
    // Ready pods hold 6 of 40 rooms (15%) and 120 of 400 participants (30%).
    assert_eq!(status.utilization, "30%");
    assert_eq!(status.selector, "convene.dev/sfupool=main");
    assert_eq!(status.observed_generation, Some(1));
    let names: Vec<_> = status.pods.iter().map(|pod| pod.name.as_str()).collect();
    assert_eq!(names, ["main-aaaaa", "main-bbbbb", "main-ccccc"]);
    assert_eq!(status.pods[0].heartbeat_age_seconds, Some(1));
    assert_eq!(status.pods[2].node_id, None);
    assert_eq!(condition(&plan, "Ready").status, "False");
    assert_eq!(condition(&plan, "Ready").message, "1 of 2 pods ready");
}

#[test]
fn a_condition_keeps_its_transition_time_until_its_status_changes() {
    let now = now();
    let pods = [TestPod::ready("main-aaaaa", now)];
    let nodes = [node("main-aaaaa", 0, 0, now)];
    let first = plan_for(&SfuPool::test().with_replicas(1), &pods, &nodes);
    let mut earlier = first.status.clone();
    for condition in &mut earlier.conditions {
        condition.last_transition_time = "2026-12-05T16:00:00Z".to_owned();
    }
    let pool = SfuPool::test()
        .with_replicas(1)
        .with_status(earlier.clone());
    let again = plan_for(&pool, &pods, &nodes);
    assert_eq!(
        condition(&again, "Ready").last_transition_time,
        "2026-12-05T16:00:00Z"
    );
    assert!(!status_changed(Some(&earlier), &again.status));

    let pool = SfuPool::test().with_replicas(2).with_status(earlier);
    let scaled = plan_for(&pool, &pods, &nodes);
    assert_eq!(condition(&scaled, "Ready").status, "False");
    assert_eq!(
        condition(&scaled, "Ready").last_transition_time,
        "2026-12-05T17:00:00Z"
    );
    assert_eq!(
        condition(&scaled, "Degraded").last_transition_time,
        "2026-12-05T16:00:00Z"
    );
}

#[test]
fn heartbeat_ages_of_live_nodes_alone_do_not_change_the_status() {
    let now = now();
    let pods = [TestPod::ready("main-aaaaa", now)];
    let mut report = node("main-aaaaa", 1, 1, now);
    let first = plan_for(&SfuPool::test().with_replicas(1), &pods, &[report.clone()]);
    report.heartbeat_at = now - TimeDelta::seconds(4);
    let later = plan_for(&SfuPool::test().with_replicas(1), &pods, &[report]);
    assert_ne!(first.status, later.status);
    assert!(!status_changed(Some(&first.status), &later.status));
}

#[test]
fn pool_pod_names_are_the_pool_name_and_five_alphanumerics() {
    assert!(is_pool_pod_name("main", "main-ab3de"));
    assert!(!is_pool_pod_name("main", "main-x-ab3de"));
    assert!(!is_pool_pod_name("main", "main-abcdef"));
    assert!(!is_pool_pod_name("main", "mainx-abcde"));
    assert!(!is_pool_pod_name("main", "main-ABCDE"));
    assert!(!is_pool_pod_name("main", ""));
}

// Properties.

fn pod_strategy() -> impl Strategy<Value = (u8, u64, u64, u8, i64)> {
    // (kind, rooms, participants, drain kind, drained seconds ago)
    (0u8..10, 0u64..=20, 0u64..=200, 0u8..10, 0i64..5000)
}

fn world_strategy() -> impl Strategy<Value = World> {
    (
        0i32..8,
        0i32..4,
        0i32..9,
        proptest::option::of((
            proptest::option::of(0i64..30),
            proptest::option::of(0i64..300),
            proptest::option::of(0i64..=90),
        )),
        proptest::collection::vec(pod_strategy(), 0..10),
    )
        .prop_map(|(replicas, min, extra_max, buffer, pods)| {
            let now = now();
            let mut pool = SfuPool::test()
                .with_replicas(replicas)
                .with_limits(min, (min + extra_max).max(1))
                .with_drain_deadline(3600);
            if let Some((rooms, participants, percent)) = buffer {
                pool = pool.with_buffer(rooms, participants, percent);
            }
            let mut test_pods = Vec::new();
            let mut nodes = Vec::new();
            for (index, (kind, rooms, participants, drain_kind, ago)) in
                pods.into_iter().enumerate()
            {
                let name = format!("main-{index:05}");
                let mut pod = match kind {
                    0 => TestPod::pending(&name),
                    1 => TestPod::ready(&name, now).failed(),
                    2 => TestPod::ready(&name, now).terminating(),
                    _ => TestPod::ready(&name, now),
                };
                match drain_kind {
                    0 => pod = pod.manual_drain(),
                    1..=3 => pod = pod.draining_since(now - TimeDelta::seconds(ago)),
                    _ => {}
                }
                if kind >= 7 && ago % 3 != 0 {
                    // Seen silent by the operator, up to a minute ago.
                    pod = pod.heartbeat_missing_since(now - TimeDelta::seconds(ago % 60));
                }
                if pod.ready_since.is_some() && kind != 9 {
                    let mut report = node(&name, rooms, participants.max(rooms), now);
                    report.draining = pod.manual_drain || pod.draining_since.is_some();
                    if kind == 8 {
                        // Missed a few heartbeats (a Redis blip), not yet past the grace.
                        report.heartbeat_at = now - TimeDelta::seconds(10);
                    }
                    if kind == 7 {
                        // Silent for longer than the grace.
                        report.heartbeat_at = now - TimeDelta::seconds(45);
                    }
                    nodes.push(report);
                }
                test_pods.push(pod);
            }
            World {
                pool,
                pods: test_pods,
                nodes,
            }
        })
}

fn serving_count(world: &World) -> usize {
    world
        .pods
        .iter()
        .filter(|pod| {
            !pod.terminating
                && !pod.manual_drain
                && pod.draining_since.is_none()
                && pod.phase != PodPhase::Failed
        })
        .count()
}

/// The rooms a pod's record reports, while it is fresh enough to trust.
fn live_rooms(world: &World, pod: &str) -> u64 {
    fresh_record(world, pod).map_or(0, |node| node.rooms)
}

fn fresh_record<'a>(world: &'a World, pod: &str) -> Option<&'a NodeReport> {
    world.nodes.iter().find(|node| {
        node.name == pod && now() - node.heartbeat_at <= Settings::default().heartbeat_grace
    })
}

proptest! {
    #[test]
    fn desired_replicas_stay_within_min_and_max(world in world_strategy()) {
        let plan = plan_world(&world);
        let min = u32::try_from(world.pool.spec.min_replicas).unwrap();
        let max = u32::try_from(world.pool.spec.max_replicas).unwrap();
        prop_assert!(plan.desired_replicas >= min && plan.desired_replicas <= max);
        let after = apply(&world, &plan, 1);
        if plan.registry_unavailable {
            // Without the load nothing is drained; what is missing is still created.
            prop_assert!(plan.start_drain.is_empty());
            prop_assert!(serving_count(&after) >= plan.desired_replicas as usize);
        } else {
            prop_assert_eq!(serving_count(&after), plan.desired_replicas as usize);
        }
    }

    #[test]
    fn a_pod_is_deleted_for_silence_only_once_seen_silent_for_the_grace_and_never_in_an_outage(
        world in world_strategy()
    ) {
        let plan = plan_world(&world);
        let grace = Settings::default().heartbeat_grace;
        let live = |pod: &&TestPod| !pod.terminating && pod.phase != PodPhase::Failed;
        let has_fresh_record = |pod: &TestPod| {
            world.nodes.iter().any(|node| node.name == pod.name && now() - node.heartbeat_at <= grace)
        };
        let no_fresh_record = !world.pods.iter().filter(live).any(&has_fresh_record);
        let any_ready = world.pods.iter().filter(live).any(|pod| pod.ready_since.is_some());
        prop_assert_eq!(plan.registry_unavailable, no_fresh_record && any_ready);
        for deletion in plan.delete.iter().filter(|deletion| deletion.reason == DeleteReason::NoHeartbeat) {
            let pod = world.pods.iter().find(|pod| pod.name == deletion.pod).unwrap();
            prop_assert!(!no_fresh_record, "{pod:?} deleted while no record is fresh");
            prop_assert!(!has_fresh_record(pod), "{pod:?} heartbeats");
            prop_assert!(
                pod.heartbeat_missing_since.is_some_and(|since| now() - since >= grace),
                "{pod:?} deleted before it was seen silent for the grace"
            );
        }
    }

    #[test]
    fn a_pod_hosting_rooms_is_never_deleted_before_its_deadline(world in world_strategy()) {
        let plan = plan_world(&world);
        for deletion in &plan.delete {
            let pod = world.pods.iter().find(|pod| pod.name == deletion.pod).unwrap();
            let rooms = live_rooms(&world, &pod.name);
            let deadline_passed = pod
                .draining_since
                .is_some_and(|since| now() >= since + TimeDelta::seconds(3600));
            // A silent pod's rooms are the registry's last word, which the silence rule
            // (its own property) already weighed.
            let broken = matches!(deletion.reason, DeleteReason::Failed | DeleteReason::NoHeartbeat);
            prop_assert!(rooms == 0 || deadline_passed || broken, "{deletion:?} of {pod:?}");
            prop_assert!(!pod.manual_drain || broken, "hand-drained {pod:?} deleted");
        }
    }

    #[test]
    fn never_drains_more_than_needed_and_the_emptiest_first(world in world_strategy()) {
        let plan = plan_world(&world);
        let serving = serving_count(&world);
        let excess = serving.saturating_sub(plan.desired_replicas as usize);
        prop_assert!(plan.start_drain.len() <= excess);
        if !plan.start_drain.is_empty() {
            prop_assert_eq!(plan.create, 0);
            prop_assert!(plan.undrain.is_empty());
        }
        let most_drained = plan.start_drain.iter().map(|drain| drain.rooms).max().unwrap_or(0);
        for pod in world.pods.iter().filter(|pod| {
            !pod.terminating && !pod.manual_drain && pod.draining_since.is_none()
                && pod.phase != PodPhase::Failed
                && !plan.start_drain.iter().any(|drain| drain.pod == pod.name)
                && !plan.delete.iter().any(|deletion| deletion.pod == pod.name)
        }) {
            prop_assert!(live_rooms(&world, &pod.name) >= most_drained);
        }
    }

    #[test]
    fn free_capacity_covers_the_buffer_when_within_max(world in world_strategy()) {
        let plan = plan_world(&world);
        let Some(buffer) = world.pool.spec.buffer.clone() else { return Ok(()) };
        if plan.limited_by_max_replicas.is_some() {
            return Ok(());
        }
        let serving: Vec<&TestPod> = world.pods.iter().filter(|pod| {
            !pod.terminating && !pod.manual_drain && pod.draining_since.is_none()
                && pod.phase != PodPhase::Failed
                && !plan.delete.iter().any(|deletion| deletion.pod == pod.name)
        }).collect();
        let load_rooms: u64 = serving.iter().map(|pod| live_rooms(&world, &pod.name)).sum();
        let load_participants: u64 = serving.iter().map(|pod| {
            fresh_record(&world, &pod.name).map_or(0, |node| node.participants)
        }).sum();
        let n = u64::from(plan.desired_replicas);
        let room_capacity = n * 20;
        let participant_capacity = n * 200;
        prop_assert!(room_capacity >= load_rooms + buffer.rooms.unwrap_or(0) as u64);
        prop_assert!(participant_capacity >= load_participants + buffer.participants.unwrap_or(0) as u64);
        if let Some(percent) = buffer.percent {
            let percent = percent as u64;
            prop_assert!((room_capacity - load_rooms) * 100 >= room_capacity * percent);
            prop_assert!((participant_capacity - load_participants) * 100 >= participant_capacity * percent);
        }
    }

    #[test]
    fn planning_again_after_applying_creates_nothing_twice_and_settles(world in world_strategy()) {
        let first = plan_world(&world);
        let mut current = apply(&world, &first, 1);
        let second = plan_world(&current);
        prop_assert_eq!(second.create, 0, "pods created twice: {:?} then {:?}", first, second);
        let mut plan = second;
        let mut rounds = 2;
        while !plan.changes_nothing() {
            prop_assert!(rounds < 6, "no fixed point after {} rounds: {:?}", rounds, plan);
            current = apply(&current, &plan, rounds);
            plan = plan_world(&current);
            rounds += 1;
        }
        // At the fixed point, planning again changes nothing and writes the same status.
        let again = plan_world(&apply(&current, &plan, rounds));
        prop_assert!(again.changes_nothing());
        prop_assert!(!status_changed(Some(&plan.status), &again.status));
    }
}
