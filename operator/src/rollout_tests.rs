//! The rollout of a changed pod template, as behaviours of [`plan`] and as properties over
//! random pools followed reconcile after reconcile.

use chrono::TimeDelta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use proptest::prelude::*;

use super::*;
use crate::crd::{Condition, SfuPool};
use crate::decisions::{DeleteReason, NodeReport, Plan, PodPhase, Settings};
use crate::fixtures::{TestPod, current_hash, node};
use crate::plan_fixtures::{World, apply, now, plan_for, plan_world};

fn progressing(plan: &Plan) -> &Condition {
    plan.status
        .conditions
        .iter()
        .find(|condition| condition.type_ == "Progressing")
        .unwrap()
}

fn drained(plan: &Plan) -> Vec<(&str, DrainReason)> {
    plan.start_drain
        .iter()
        .map(|drain| (drain.pod.as_str(), drain.reason))
        .collect()
}

/// Four ready pods on the old template, hosting 4, 1, 3 and 2 rooms.
fn outdated_pool_of_four() -> (Vec<TestPod>, Vec<NodeReport>) {
    let now = now();
    let pods = ["main-aaaaa", "main-bbbbb", "main-ccccc", "main-ddddd"]
        .map(|name| TestPod::ready(name, now).outdated())
        .to_vec();
    let nodes = vec![
        node("main-aaaaa", 4, 16, now),
        node("main-bbbbb", 1, 4, now),
        node("main-ccccc", 3, 12, now),
        node("main-ddddd", 2, 8, now),
    ];
    (pods, nodes)
}

#[test]
fn a_changed_template_first_creates_up_to_date_pods_within_the_surge() {
    let (pods, nodes) = outdated_pool_of_four();
    let plan = plan_for(&SfuPool::test().with_replicas(4), &pods, &nodes);
    // 25% of 4 desired pods: one pod beyond them.
    assert_eq!((plan.create, plan.create_for_rollout), (1, 1));
    assert!(plan.start_drain.is_empty() && plan.delete.is_empty());
    assert_eq!(plan.status.updated_replicas, 0);
    assert_eq!(plan.status.template_hash, current_hash());
    let progressing = progressing(&plan);
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_str()),
        ("True", "RollingOut")
    );
    assert!(
        progressing
            .message
            .contains("4 outdated (4 serving, 0 draining)"),
        "{}",
        progressing.message
    );
    assert!(plan.status.pods.iter().all(|pod| !pod.up_to_date));
}

#[test]
fn outdated_pods_are_drained_emptiest_first_only_once_ready_pods_cover_the_need() {
    let now = now();
    let (mut pods, mut nodes) = outdated_pool_of_four();
    let pool = SfuPool::test().with_replicas(4);
    // The new pod is pending: draining an old one now would leave three ready pods.
    pods.push(TestPod::pending("main-eeeee"));
    let plan = plan_for(&pool, &pods, &nodes);
    assert!(plan.changes_nothing(), "{plan:?}");

    // Ready: the emptiest old pod makes way, for the rollout; nothing is created meanwhile.
    pods[4] = TestPod::ready("main-eeeee", now);
    nodes.push(node("main-eeeee", 0, 0, now));
    let plan = plan_for(&pool, &pods, &nodes);
    assert_eq!(drained(&plan), [("main-bbbbb", DrainReason::Rollout)]);
    assert_eq!(plan.create, 0);
    assert!(
        plan.bus_drain_requests
            .contains(&("main-bbbbb".to_owned(), true))
    );
    assert_eq!(plan.status.updated_replicas, 1);
    assert!(plan.status.pods[4].up_to_date);
}

#[test]
fn the_next_surge_comes_while_outdated_pods_drain_and_they_go_when_empty() {
    let now = now();
    let (mut pods, mut nodes) = outdated_pool_of_four();
    let pool = SfuPool::test().with_replicas(4);
    pods[1] = pods[1].clone().draining_since(now - TimeDelta::seconds(30));
    nodes[1].draining = true;
    pods.push(TestPod::ready("main-eeeee", now));
    nodes.push(node("main-eeeee", 0, 0, now));
    // bbbbb still hosts its room: it stays, and the next up-to-date pod is created.
    let plan = plan_for(&pool, &pods, &nodes);
    assert_eq!(plan.create_for_rollout, 1);
    assert!(plan.delete.is_empty());
    let progressing = progressing(&plan);
    assert!(
        progressing
            .message
            .contains("1 pods on the current template; 4 outdated (3 serving, 1 draining)"),
        "{}",
        progressing.message
    );

    // Its meeting ended: it is deleted with its full grace period, as any drained pod.
    nodes[1].rooms = 0;
    let plan = plan_for(&pool, &pods, &nodes);
    assert_eq!(plan.delete.len(), 1);
    assert_eq!(
        (plan.delete[0].pod.as_str(), plan.delete[0].reason),
        ("main-bbbbb", DeleteReason::Drained)
    );
}

#[test]
fn max_surge_is_a_number_or_a_percentage_rounded_up_and_at_least_one() {
    let pool = SfuPool::test();
    assert_eq!(max_surge(&pool.spec, 4), 1);
    assert_eq!(max_surge(&pool.spec, 10), 3);
    assert_eq!(max_surge(&pool.spec, 0), 1);
    let with = |surge: IntOrString| SfuPool::test().with_max_surge(surge).spec;
    assert_eq!(max_surge(&with(IntOrString::Int(2)), 4), 2);
    assert_eq!(max_surge(&with(IntOrString::Int(0)), 4), 1);
    assert_eq!(max_surge(&with(IntOrString::Int(-3)), 4), 1);
    assert_eq!(max_surge(&with(IntOrString::String("50%".into())), 5), 3);
    assert_eq!(max_surge(&with(IntOrString::String("100%".into())), 4), 4);
    assert_eq!(max_surge(&with(IntOrString::String("lots".into())), 8), 2);

    let (pods, nodes) = outdated_pool_of_four();
    let pool = SfuPool::test()
        .with_replicas(4)
        .with_max_surge(IntOrString::String("100%".into()));
    assert_eq!(plan_for(&pool, &pods, &nodes).create_for_rollout, 4);
}

#[test]
fn a_pool_at_max_replicas_waits_for_its_draining_outdated_pods_to_go() {
    let now = now();
    let pool = SfuPool::test().with_replicas(3).with_limits(1, 3);
    let mut busy_old = node("main-ddddd", 2, 8, now);
    busy_old.draining = true;
    let mut pods = vec![
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now).outdated(),
        TestPod::ready("main-ccccc", now).outdated(),
        TestPod::ready("main-ddddd", now)
            .outdated()
            .draining_since(now - TimeDelta::seconds(60)),
    ];
    let nodes = vec![
        node("main-aaaaa", 0, 0, now),
        node("main-bbbbb", 1, 4, now),
        node("main-ccccc", 1, 4, now),
        busy_old,
    ];
    // 3 serving + 1 draining = maxReplicas 3 + surge 1: nothing more until ddddd goes.
    let plan = plan_for(&pool, &pods, &nodes);
    assert!(plan.changes_nothing(), "{plan:?}");
    pods.pop();
    let plan = plan_for(&pool, &pods, &nodes[..3]);
    assert_eq!(plan.create_for_rollout, 1);
}

#[test]
fn up_to_date_pods_are_never_drained_for_the_rollout() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now),
        TestPod::ready("main-bbbbb", now),
        TestPod::ready("main-ccccc", now).outdated(),
    ];
    let nodes = [
        node("main-aaaaa", 0, 0, now),
        node("main-bbbbb", 0, 0, now),
        node("main-ccccc", 6, 30, now),
    ];
    // The old pod goes although it hosts rooms and two new ones are empty.
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    assert_eq!(drained(&plan), [("main-ccccc", DrainReason::Rollout)]);

    // Scaling down to one afterwards drains one of the new ones, the plain way.
    let plan = plan_for(&SfuPool::test().with_replicas(1), &pods, &nodes);
    assert_eq!(
        drained(&plan),
        [
            ("main-ccccc", DrainReason::Rollout),
            ("main-aaaaa", DrainReason::ScaleDown)
        ]
    );
}

#[test]
fn a_scale_up_during_a_rollout_adds_the_surge_in_the_same_reconcile() {
    let now = now();
    let pods = [
        TestPod::ready("main-aaaaa", now).outdated(),
        TestPod::ready("main-bbbbb", now).outdated(),
    ];
    let nodes = [node("main-aaaaa", 1, 2, now), node("main-bbbbb", 1, 2, now)];
    let plan = plan_for(&SfuPool::test().with_replicas(4), &pods, &nodes);
    // Two to scale up (built from the new template) and one beyond them for the rollout.
    assert_eq!((plan.create, plan.create_for_rollout), (3, 1));
}

#[test]
fn pods_without_a_template_hash_are_outdated_and_the_rollout_completes_when_none_is_left() {
    let now = now();
    let mut unlabelled = TestPod::ready("main-aaaaa", now);
    unlabelled.template_hash = None;
    let pods = [unlabelled, TestPod::ready("main-bbbbb", now)];
    let nodes = [node("main-aaaaa", 0, 0, now), node("main-bbbbb", 0, 0, now)];
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    assert_eq!(progressing(&plan).status, "True");
    assert_eq!(plan.create_for_rollout, 1);

    let pods = [
        TestPod::ready("main-bbbbb", now),
        TestPod::ready("main-ccccc", now),
        // A hand-drained outdated pod is the SRE's: it does not hold the rollout open.
        TestPod::ready("main-ddddd", now).outdated().manual_drain(),
    ];
    let plan = plan_for(&SfuPool::test(), &pods, &nodes);
    let progressing = progressing(&plan);
    assert_eq!(
        (progressing.status.as_str(), progressing.reason.as_str()),
        ("False", "RolloutComplete")
    );
    assert_eq!(plan.status.updated_replicas, 2);
}

#[test]
fn the_status_says_when_a_rollout_starts_and_completes() {
    let now = now();
    let (pods, nodes) = outdated_pool_of_four();
    let pool = SfuPool::test().with_replicas(4);
    let rolling = plan_for(&pool, &pods, &nodes).status;
    assert_eq!(
        crate::status::rollout_transition(None, &rolling),
        Some(true)
    );
    assert_eq!(
        crate::status::rollout_transition(Some(&rolling), &rolling),
        None
    );
    let done_pods = [TestPod::ready("main-aaaaa", now)];
    let done = plan_for(&pool, &done_pods, &nodes[..1]).status;
    assert_eq!(
        crate::status::rollout_transition(Some(&rolling), &done),
        Some(false)
    );
    assert_eq!(crate::status::rollout_transition(None, &done), None);
}

// Properties.

/// (outdated, kind, rooms, participants, drain kind, drained seconds ago)
fn pod_strategy() -> impl Strategy<Value = (bool, u8, u64, u64, u8, i64)> {
    (
        any::<bool>(),
        0u8..10,
        0u64..=20,
        0u64..=200,
        0u8..12,
        0i64..5000,
    )
}

fn surge_strategy() -> impl Strategy<Value = Option<IntOrString>> {
    prop_oneof![
        Just(None),
        (0i32..4).prop_map(|pods| Some(IntOrString::Int(pods))),
        (0u32..=100).prop_map(|percent| Some(IntOrString::String(format!("{percent}%")))),
    ]
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
        surge_strategy(),
        proptest::collection::vec(pod_strategy(), 0..10),
    )
        .prop_map(|(replicas, min, extra_max, buffer, surge, pods)| {
            let now = now();
            let mut pool = SfuPool::test()
                .with_replicas(replicas)
                .with_limits(min, (min + extra_max).max(1))
                .with_drain_deadline(3600);
            if let Some((rooms, participants, percent)) = buffer {
                pool = pool.with_buffer(rooms, participants, percent);
            }
            if let Some(surge) = surge {
                pool = pool.with_max_surge(surge);
            }
            let mut test_pods = Vec::new();
            let mut nodes = Vec::new();
            for (index, (outdated, kind, rooms, participants, drain_kind, ago)) in
                pods.into_iter().enumerate()
            {
                let name = format!("main-{index:05}");
                let mut pod = match kind {
                    0 => TestPod::pending(&name),
                    1 => TestPod::ready(&name, now).failed(),
                    2 => TestPod::ready(&name, now).terminating(),
                    _ => TestPod::ready(&name, now),
                };
                if outdated {
                    pod = pod.outdated();
                }
                match drain_kind {
                    0 => pod = pod.manual_drain(),
                    1..=3 => pod = pod.draining_since(now - TimeDelta::seconds(ago)),
                    _ => {}
                }
                if pod.ready_since.is_some() && kind != 9 {
                    let mut report = node(&name, rooms, participants.max(rooms), now);
                    report.draining = pod.manual_drain || pod.draining_since.is_some();
                    if kind == 8 {
                        report.heartbeat_at = now - TimeDelta::seconds(10);
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

/// Time passing between reconciles: pending pods start and heartbeat, and one meeting ends
/// on each draining pod.
fn progress(world: &World) -> World {
    let now = now();
    let mut next = world.clone();
    for pod in next
        .pods
        .iter_mut()
        .filter(|pod| pod.phase == PodPhase::Pending && !pod.terminating)
    {
        pod.phase = PodPhase::Running;
        pod.ready_since = Some(now - TimeDelta::seconds(60));
        let mut report = node(&pod.name, 0, 0, now);
        report.draining = pod.manual_drain || pod.draining_since.is_some();
        next.nodes.push(report);
    }
    // The clock stands still in these worlds; a pod seen silent is seen so for a whole grace
    // by the next reconcile.
    for pod in &mut next.pods {
        if let Some(since) = &mut pod.heartbeat_missing_since {
            *since -= Settings::default().heartbeat_grace;
        }
    }
    for node in &mut next.nodes {
        if node.draining {
            node.rooms = node.rooms.saturating_sub(1);
            node.participants = node.participants.min(node.rooms * 10);
        }
    }
    next
}

fn is_up_to_date(pod: &TestPod) -> bool {
    pod.template_hash.as_deref() == Some(current_hash().as_str())
}

fn is_serving(pod: &TestPod) -> bool {
    !pod.terminating
        && !pod.manual_drain
        && pod.draining_since.is_none()
        && pod.phase != PodPhase::Failed
}

/// Pods the operator keeps: serving or draining for it (not hand-drained, not going away).
fn kept_count(world: &World) -> u32 {
    let count = world
        .pods
        .iter()
        .filter(|pod| !pod.terminating && !pod.manual_drain && pod.phase != PodPhase::Failed)
        .count();
    u32::try_from(count).unwrap()
}

fn live_rooms(world: &World, pod: &str) -> u64 {
    world
        .nodes
        .iter()
        .find(|node| node.name == pod)
        .map_or(0, |node| node.rooms)
}

/// The invariants of one plan on one world.
fn check_plan(world: &World, plan: &Plan) -> Result<(), TestCaseError> {
    let max = u32::try_from(world.pool.spec.max_replicas).unwrap();
    let surge = max_surge(&world.pool.spec, plan.desired_replicas);
    for deletion in &plan.delete {
        let pod = world
            .pods
            .iter()
            .find(|pod| pod.name == deletion.pod)
            .unwrap();
        let deadline_passed = pod
            .draining_since
            .is_some_and(|since| now() >= since + TimeDelta::seconds(3600));
        let broken = matches!(
            deletion.reason,
            DeleteReason::Failed | DeleteReason::NoHeartbeat
        );
        prop_assert!(
            live_rooms(world, &pod.name) == 0 || deadline_passed || broken,
            "{deletion:?} of {pod:?}"
        );
    }
    let after = apply(world, plan, 99);
    if plan.create_for_rollout > 0 {
        prop_assert!(plan.start_drain.is_empty());
        let serving_after = after.pods.iter().filter(|pod| is_serving(pod)).count();
        prop_assert!(serving_after as u32 <= plan.desired_replicas + surge);
        prop_assert!(kept_count(&after) <= max + surge, "{plan:?}");
    }
    let up_to_date_serving = world
        .pods
        .iter()
        .filter(|pod| {
            is_serving(pod)
                && is_up_to_date(pod)
                && !plan.delete.iter().any(|deletion| deletion.pod == pod.name)
        })
        .count();
    let up_to_date_drained = plan
        .start_drain
        .iter()
        .filter(|drain| {
            let pod = world.pods.iter().find(|pod| pod.name == drain.pod);
            pod.is_some_and(is_up_to_date)
        })
        .count();
    for drain in &plan.start_drain {
        let pod = world.pods.iter().find(|pod| pod.name == drain.pod).unwrap();
        prop_assert_eq!(
            drain.reason == DrainReason::ScaleDown,
            is_up_to_date(pod),
            "{:?}",
            drain
        );
    }
    // An outdated pod that serves meetings is drained only while enough ready pods remain.
    let is_drained = |name: &str| plan.start_drain.iter().any(|drain| drain.pod == name);
    let ready_serving: Vec<&TestPod> = world
        .pods
        .iter()
        .filter(|pod| {
            is_serving(pod)
                && pod.ready_since.is_some()
                && !plan.delete.iter().any(|deletion| deletion.pod == pod.name)
        })
        .collect();
    if ready_serving
        .iter()
        .any(|pod| !is_up_to_date(pod) && is_drained(&pod.name))
    {
        let ready_left = ready_serving
            .iter()
            .filter(|pod| !is_drained(&pod.name))
            .count();
        prop_assert!(
            ready_left >= plan.desired_replicas as usize,
            "a rollout drain left {ready_left} ready pods: {plan:?}"
        );
    }
    if up_to_date_drained > 0 {
        prop_assert!(
            up_to_date_serving - up_to_date_drained >= plan.desired_replicas as usize,
            "up-to-date pods drained below the need: {plan:?}"
        );
    }
    Ok(())
}

proptest! {
    #[test]
    fn a_plan_keeps_the_rollout_rules(world in world_strategy()) {
        let plan = plan_world(&world);
        check_plan(&world, &plan)?;
    }

    #[test]
    fn planning_is_idempotent_and_creates_nothing_twice(world in world_strategy()) {
        let first = plan_world(&world);
        prop_assert_eq!(&first, &plan_world(&world));
        let applied = apply(&world, &first, 1);
        let second = plan_world(&applied);
        // A reconcile that created pods sees them pending next time and adds none; one that
        // drained may create the next surge (the rollout's next step, not a repeat).
        if first.create > 0 {
            prop_assert_eq!(second.create, 0, "pods created twice: {:?} then {:?}", first, second);
        }
        for drain in &second.start_drain {
            prop_assert!(!first.start_drain.iter().any(|earlier| earlier.pod == drain.pod));
        }
    }

    #[test]
    fn a_rollout_ends_with_every_pod_up_to_date(world in world_strategy()) {
        // With no fresh record at all (every ready pod silent) the registry is out and the
        // pool holds still: nothing to roll until it is back.
        prop_assume!(!plan_world(&world).registry_unavailable);
        let mut current = world;
        let mut settled = false;
        for round in 0..200 {
            let plan = plan_world(&current);
            check_plan(&current, &plan)?;
            if plan.registry_unavailable {
                // The last pod with a record went (drained or deleted) and the silent ones
                // left look like a registry outage: the pool holds (a draining pod goes at
                // its deadline, which this frozen clock never reaches).
                prop_assert!(plan.delete.iter().all(|deletion| deletion.reason == DeleteReason::Failed));
                prop_assert!(plan.start_drain.is_empty());
                return Ok(());
            }
            if plan.changes_nothing() && current.pods.iter().all(|pod| pod.terminating || pod.phase != PodPhase::Pending)
                && current.nodes.iter().all(|node| !node.draining || node.rooms == 0) {
                settled = true;
                let progressing = progressing(&plan);
                prop_assert_eq!(progressing.status.as_str(), "False", "{:?}", progressing);
                break;
            }
            current = progress(&apply(&current, &plan, round));
        }
        prop_assert!(settled, "no fixed point after 200 reconciles");
        for pod in current.pods.iter().filter(|pod| !pod.terminating && !pod.manual_drain) {
            prop_assert!(is_up_to_date(pod), "{:?} is outdated at the end", pod);
        }
        let final_plan = plan_world(&current);
        let serving = current.pods.iter().filter(|pod| is_serving(pod)).count();
        prop_assert_eq!(serving, final_plan.desired_replicas as usize);
    }
}
