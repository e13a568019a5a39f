//! What the planner's behaviour and property tests share (`decisions_tests.rs`,
//! `rollout_tests.rs`): a fixed clock, planning a pool of test pods, and a `World` that a
//! plan is applied to as the controller and the bus would, reconcile after reconcile.

use chrono::{DateTime, TimeZone, Utc};

use crate::crd::SfuPool;
use crate::decisions::{NodeReport, ObservedPod, Plan, Settings, plan};
use crate::fixtures::{TestPod, current_hash};

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 5, 17, 0, 0)
        .single()
        .unwrap_or_default()
}

/// The plan for pool `main` at [`now`], with the bus answering `nodes`.
pub fn plan_for(pool: &SfuPool, pods: &[TestPod], nodes: &[NodeReport]) -> Plan {
    let observed: Vec<ObservedPod> = pods.iter().map(TestPod::observed).collect();
    plan(
        "main",
        pool.metadata.generation,
        &pool.spec,
        &current_hash(),
        pool.status.as_ref(),
        &observed,
        Some(nodes),
        now(),
        Settings::default(),
    )
}

/// A pool as the operator observes it: its pods (apiserver) and its nodes' records (bus).
#[derive(Debug, Clone)]
pub struct World {
    pub pool: SfuPool,
    pub pods: Vec<TestPod>,
    pub nodes: Vec<NodeReport>,
}

pub fn plan_world(world: &World) -> Plan {
    plan_for(&world.pool, &world.pods, &world.nodes)
}

/// What the controller and the pods would do with `plan`: the apiserver's view and the
/// bus's. Pods it creates are named after `round`, so that later rounds add new names.
pub fn apply(world: &World, plan: &Plan, round: usize) -> World {
    let now = now();
    let mut next = world.clone();
    next.pods
        .retain(|pod| !plan.delete.iter().any(|deletion| deletion.pod == pod.name));
    for pod in &mut next.pods {
        if plan.undrain.contains(&pod.name) {
            pod.draining_since = None;
        }
        if plan.start_drain.iter().any(|drain| drain.pod == pod.name) {
            pod.draining_since = Some(now);
        }
        if plan.mark_heartbeat_missing.contains(&pod.name) {
            pod.heartbeat_missing_since = Some(now);
        }
        if plan.clear_heartbeat_missing.contains(&pod.name) {
            pod.heartbeat_missing_since = None;
        }
    }
    for index in 0..plan.create {
        next.pods
            .push(TestPod::pending(&format!("main-n{round:02}{index:03}")));
    }
    let forgotten: Vec<_> = plan
        .forget_nodes
        .iter()
        .map(|forget| forget.node_id)
        .collect();
    next.nodes.retain(|node| !forgotten.contains(&node.node_id));
    for (name, drain) in &plan.bus_drain_requests {
        for node in next.nodes.iter_mut().filter(|node| &node.name == name) {
            node.draining = *drain;
        }
    }
    next
}
