//! What the operator should do to a pool, as a pure function of what it observed.
//!
//! [`plan`] takes the pool's spec, its pods (as the apiserver shows them), the SFU node
//! records (as the pods report them in the bus) and the time, and returns a [`Plan`]: pods
//! to create, to drain, to return to service and to delete, dead nodes whose room claims to
//! release, drain requests to send through the bus, and the status to write. No IO, no
//! clock: the controller observes, calls [`plan`], and carries the plan out, so every
//! scaling and drain rule is tested here without a cluster.
//!
//! The owned pods are the truth: a pod created by the last reconcile is seen (pending, not
//! ready) by the next one and counts as capacity being added, so no in-memory counter can
//! drift from the cluster.

use std::collections::BTreeMap;

use chrono::{DateTime, TimeDelta, Utc};
use convene_bus::SfuNodeRecord;
use convene_bus::registry::NODE_TTL;
use uuid::Uuid;

use crate::crd::{SfuPoolSpec, SfuPoolStatus};
pub use crate::rollout::DrainReason;
use crate::rollout::{PoolCounts, ServingPod};

/// A pod of the pool, as the apiserver shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedPod {
    pub name: String,
    pub phase: PodPhase,
    /// The pod's `Ready` condition is `True`.
    pub ready: bool,
    /// When the `Ready` condition last became `True` (while it is).
    pub ready_since: Option<DateTime<Utc>>,
    /// While it is not ready: since when (the `Ready` condition's last transition, else the
    /// pod's creation).
    pub not_ready_since: Option<DateTime<Utc>>,
    /// The pod has a deletion timestamp: it is going away whatever we decide.
    pub terminating: bool,
    /// `convene.dev/template-hash`: the template the pod was built from (none on pods of an
    /// operator that did not label them, which are outdated like any other).
    pub template_hash: Option<String>,
    /// `convene.dev/drain=true`: an SRE drains it by hand.
    pub manual_drain: bool,
    /// `convene.dev/draining-since`: the operator drains it (to scale down, or to replace it).
    pub draining_since: Option<DateTime<Utc>>,
    /// `convene.dev/heartbeat-missing-since`: when the operator first saw the pod ready
    /// without a fresh node record.
    pub heartbeat_missing_since: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodPhase {
    Pending,
    Running,
    Succeeded,
    Failed,
    Unknown,
}

impl PodPhase {
    pub fn parse(phase: Option<&str>) -> Self {
        match phase {
            Some("Pending") | None => PodPhase::Pending,
            Some("Running") => PodPhase::Running,
            Some("Succeeded") => PodPhase::Succeeded,
            Some("Failed") => PodPhase::Failed,
            Some(_) => PodPhase::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PodPhase::Pending => "Pending",
            PodPhase::Running => "Running",
            PodPhase::Succeeded => "Succeeded",
            PodPhase::Failed => "Failed",
            PodPhase::Unknown => "Unknown",
        }
    }
}

/// One SFU node record from the bus, reduced to what the decisions use.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReport {
    pub node_id: Uuid,
    /// The pod name the node runs in (`""` outside Kubernetes).
    pub name: String,
    /// The node reports `state: draining`.
    pub draining: bool,
    /// Rooms on the node: the larger of its own count and the claims gateways made on it
    /// (a room claimed a moment ago is not in the node's report yet).
    pub rooms: u64,
    pub participants: u64,
    pub heartbeat_at: DateTime<Utc>,
}

impl NodeReport {
    pub fn from_record(record: &SfuNodeRecord, claimed_rooms: u64) -> Self {
        Self {
            node_id: record.id,
            name: record.name.clone(),
            draining: record.state == convene_bus::NodeState::Draining,
            rooms: record.rooms.max(claimed_rooms),
            participants: record.participants,
            heartbeat_at: record.heartbeat_at,
        }
    }

    fn is_alive(&self, now: DateTime<Utc>) -> bool {
        now - self.heartbeat_at < NODE_TTL
    }
}

/// A pod pending or not ready for longer than this is stuck (unschedulable, a bad image, a
/// crash loop): it no longer counts as capacity being added, and `Degraded` stays `True`
/// with reason `PodsNotReady` while it exists. It is not deleted: its replacement would most
/// likely be stuck the same way, and a not-ready pod may still host meetings.
pub const NOT_READY_BOUND: TimeDelta = TimeDelta::minutes(10);

/// Tunables that are the operator's, not the pool's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// A ready pod the operator has seen without a fresh node record for this long (by its
    /// `convene.dev/heartbeat-missing-since` annotation) is dead, and a node record this
    /// stale is forgotten. Well above the bus's [`NODE_TTL`], so that a Redis blip does not
    /// cost meetings.
    pub heartbeat_grace: TimeDelta,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            heartbeat_grace: TimeDelta::seconds(30),
        }
    }
}

/// What the operator does to the pool in one reconcile.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plan {
    /// The number of serving pods the pool should have.
    pub desired_replicas: u32,
    /// Pods to create.
    pub create: u32,
    /// Of `create`, the pods created to replace outdated ones (the rest scale up).
    pub create_for_rollout: u32,
    /// Serving pods to drain to scale down or to replace them (outdated first, then the
    /// emptiest): annotate and ask through the bus.
    pub start_drain: Vec<DrainStart>,
    /// Pods the operator was draining that are wanted again (a scale-up during a drain).
    pub undrain: Vec<String>,
    pub delete: Vec<Deletion>,
    /// Dead nodes to forget in the bus, releasing their room claims.
    pub forget_nodes: Vec<ForgetNode>,
    /// Drain (`true`) or return-to-service (`false`) requests to send through the bus, where
    /// the node's report disagrees with what the pod's annotations want.
    pub bus_drain_requests: Vec<(String, bool)>,
    /// Why the pool could not get what it needs, when it could not.
    pub limited_by_max_replicas: Option<u32>,
    /// Ready pods first seen without a fresh node record now: annotate them
    /// `convene.dev/heartbeat-missing-since` with the reconcile's time.
    pub mark_heartbeat_missing: Vec<String>,
    /// Pods whose annotation is to be removed: their record is back, or the whole registry
    /// is out (so that a pod's silence is timed afresh once it is back).
    pub clear_heartbeat_missing: Vec<String>,
    /// The bus could not be read, or no pod of the pool has a fresh record while some are
    /// ready: the registry is out (a Redis restart keeps no record), not the nodes. Nothing
    /// is deleted or drained on the registry's word until it is back.
    pub registry_unavailable: bool,
    /// Pods pending or not ready for longer than [`NOT_READY_BOUND`]: not counted as serving.
    pub stuck: Vec<String>,
    pub status: SfuPoolStatus,
}

impl Plan {
    /// No Kubernetes object changes and no claim is released: the pool is where it should be.
    pub fn changes_nothing(&self) -> bool {
        self.create == 0
            && self.start_drain.is_empty()
            && self.undrain.is_empty()
            && self.delete.is_empty()
            && self.forget_nodes.is_empty()
            && self.mark_heartbeat_missing.is_empty()
            && self.clear_heartbeat_missing.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DrainStart {
    pub pod: String,
    pub rooms: u64,
    pub reason: DrainReason,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Deletion {
    pub pod: String,
    pub reason: DeleteReason,
    /// Rooms the pod still hosts (non-zero only past the drain deadline or when it is dead).
    pub rooms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteReason {
    /// Draining and empty.
    Drained,
    /// Draining past `drainDeadlineSeconds`, rooms or not.
    DrainDeadline,
    /// The pod failed or was evicted.
    Failed,
    /// Ready, and seen by the operator without a fresh node record for longer than the
    /// grace while other pods of the pool had theirs.
    NoHeartbeat,
}

impl DeleteReason {
    /// The Kubernetes Event reason (and metric label).
    pub fn as_str(self) -> &'static str {
        match self {
            DeleteReason::Drained => "Drained",
            DeleteReason::DrainDeadline => "DrainDeadline",
            DeleteReason::Failed => "PodFailed",
            DeleteReason::NoHeartbeat => "NoHeartbeat",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ForgetNode {
    pub node_id: Uuid,
    pub pod: String,
    pub rooms: u64,
}

/// The pool's pods are `<pool>-<5 lowercase alphanumerics>`: a record with such a name
/// belongs to this pool even after its pod is gone (and one of `<pool>-x-abcde` does not).
pub fn is_pool_pod_name(pool: &str, name: &str) -> bool {
    name.strip_prefix(pool)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|suffix| {
            suffix.len() == 5
                && suffix
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit())
        })
}

/// Everything the operator decides for one pool. `template_hash` is the hash of the pod the
/// spec builds now ([`crate::pods::template_hash`]); pods with another are outdated. `nodes`
/// is `None` when the bus could not be read.
#[allow(clippy::too_many_arguments)] // each input is a different observation; a struct would only rename them
pub fn plan(
    pool_name: &str,
    generation: Option<i64>,
    spec: &SfuPoolSpec,
    template_hash: &str,
    previous_status: Option<&SfuPoolStatus>,
    pods: &[ObservedPod],
    nodes: Option<&[NodeReport]>,
    now: DateTime<Utc>,
    settings: Settings,
) -> Plan {
    let mut plan = Plan::default();
    let bus_unreadable = nodes.is_none();
    let nodes = nodes.unwrap_or_default();
    let min_replicas = u32::try_from(spec.min_replicas).unwrap_or(0);
    // The CRD's validation keeps min <= max; an old object that slipped through is read as
    // max = min rather than refused.
    let max_replicas = u32::try_from(spec.max_replicas)
        .unwrap_or(0)
        .max(min_replicas);
    let drain_deadline = TimeDelta::seconds(spec.drain_deadline_seconds.max(0));

    // The newest record of each pod name (a restarted container registers a new node id).
    let mut newest_report: BTreeMap<&str, &NodeReport> = BTreeMap::new();
    for node in nodes.iter().filter(|node| !node.name.is_empty()) {
        let newest = newest_report.entry(node.name.as_str()).or_insert(node);
        if node.heartbeat_at > newest.heartbeat_at {
            *newest = node;
        }
    }
    // A pod's load is its newest record's while that is recent enough to trust: a node that
    // missed a few heartbeats (a Redis blip) still has its rooms, and must not look empty.
    let recent_report = |pod: &str| {
        newest_report
            .get(pod)
            .copied()
            .filter(|node| now - node.heartbeat_at <= settings.heartbeat_grace)
    };
    let rooms_of = |pod: &str| recent_report(pod).map_or(0, |node| node.rooms);
    let participants_of = |pod: &str| recent_report(pod).map_or(0, |node| node.participants);

    let mut sorted_pods: Vec<&ObservedPod> = pods.iter().collect();
    sorted_pods.sort_by(|a, b| a.name.cmp(&b.name));

    // A Redis restart loses every record at once, until each node heartbeats again: when no
    // live pod of the pool has a fresh record while some are ready, the registry is out, not
    // every node. Silence then proves nothing.
    let live_pods = || {
        sorted_pods.iter().copied().filter(|pod| {
            !pod.terminating && !matches!(pod.phase, PodPhase::Failed | PodPhase::Succeeded)
        })
    };
    let any_ready = live_pods().any(|pod| pod.ready);
    let any_fresh = live_pods().any(|pod| recent_report(&pod.name).is_some());
    let registry_unavailable = bus_unreadable || (any_ready && !any_fresh);
    plan.registry_unavailable = registry_unavailable;

    // Classify the pods that are not already going away.
    let mut serving: Vec<&ObservedPod> = Vec::new();
    let mut operator_draining: Vec<&ObservedPod> = Vec::new();
    let mut broken_pods: Vec<&str> = Vec::new();
    for pod in sorted_pods.iter().copied().filter(|pod| !pod.terminating) {
        if matches!(pod.phase, PodPhase::Failed | PodPhase::Succeeded) {
            plan.delete.push(Deletion {
                pod: pod.name.clone(),
                reason: DeleteReason::Failed,
                rooms: rooms_of(&pod.name),
            });
            broken_pods.push(&pod.name);
            continue;
        }
        // Silence counts only once the operator itself has seen it for the whole grace
        // (the annotation, so a restarted operator does not start the clock at zero), and
        // never while the registry is out.
        let heartbeat_stale = recent_report(&pod.name).is_none();
        match pod.heartbeat_missing_since {
            Some(_) if !heartbeat_stale || registry_unavailable => {
                plan.clear_heartbeat_missing.push(pod.name.clone());
            }
            None if heartbeat_stale
                && (pod.ready || pod.draining_since.is_some())
                && !registry_unavailable =>
            {
                plan.mark_heartbeat_missing.push(pod.name.clone());
            }
            _ => {}
        }
        let ready_past_grace = pod.ready
            && pod
                .ready_since
                .is_some_and(|since| now - since > settings.heartbeat_grace);
        let missing_past_grace = pod
            .heartbeat_missing_since
            .is_some_and(|since| now - since >= settings.heartbeat_grace);
        if ready_past_grace && heartbeat_stale && missing_past_grace && !registry_unavailable {
            plan.delete.push(Deletion {
                pod: pod.name.clone(),
                reason: DeleteReason::NoHeartbeat,
                rooms: 0,
            });
            broken_pods.push(&pod.name);
            continue;
        }
        if pod.manual_drain {
            // An SRE's drain: the pod keeps its meetings and stays until the SRE deletes it
            // or removes the annotation; the pool gets a replacement meanwhile.
            continue;
        }
        if let Some(since) = pod.draining_since {
            let rooms = rooms_of(&pod.name);
            // Only once the node itself says it drains (or has been gone from the bus for
            // the grace, as the operator saw it) is "no rooms" final: before that a gateway
            // may still place a room on it, and a missing record says nothing of its rooms.
            let node_stopped_taking_rooms = match recent_report(&pod.name) {
                Some(node) => node.draining,
                None => missing_past_grace,
            };
            if now >= since + drain_deadline {
                plan.delete.push(Deletion {
                    pod: pod.name.clone(),
                    reason: DeleteReason::DrainDeadline,
                    rooms,
                });
            } else if rooms == 0 && node_stopped_taking_rooms && !registry_unavailable {
                plan.delete.push(Deletion {
                    pod: pod.name.clone(),
                    reason: DeleteReason::Drained,
                    rooms,
                });
            } else {
                operator_draining.push(pod);
            }
            continue;
        }
        if !pod.ready
            && pod
                .not_ready_since
                .is_some_and(|since| now - since > NOT_READY_BOUND)
        {
            plan.stuck.push(pod.name.clone());
            continue;
        }
        serving.push(pod);
    }

    // How many serving pods the pool needs, from the load they carry.
    let replicas = u32::try_from(spec.replicas).unwrap_or(0);
    let wanted_for = |load_rooms: u64, load_participants: u64| match &spec.buffer {
        None => replicas,
        Some(buffer) => replicas.max(pods_needed_for_buffer(
            spec,
            buffer,
            load_rooms,
            load_participants,
        )),
    };
    let mut load_rooms: u64 = serving.iter().map(|pod| rooms_of(&pod.name)).sum();
    let mut load_participants: u64 = serving.iter().map(|pod| participants_of(&pod.name)).sum();
    let mut wanted = wanted_for(load_rooms, load_participants);
    let mut desired = wanted.clamp(min_replicas, max_replicas);

    let is_up_to_date = |pod: &ObservedPod| pod.template_hash.as_deref() == Some(template_hash);
    let n_serving = u32::try_from(serving.len()).unwrap_or(u32::MAX);
    let mut n_up_to_date =
        u32::try_from(serving.iter().filter(|pod| is_up_to_date(pod)).count()).unwrap_or(u32::MAX);
    let mut n_draining = u32::try_from(operator_draining.len()).unwrap_or(u32::MAX);
    let n_serving_after;
    if registry_unavailable {
        // The load is unknown, so the pool neither drains nor takes back a draining pod; it
        // only replaces what it lacks (failed pods).
        plan.create = desired.saturating_sub(n_serving);
        n_up_to_date += plan.create;
        n_serving_after = n_serving + plan.create;
    } else if n_serving < desired {
        // Warm pods first: a pod still draining is put back into service before a new one
        // is created (up-to-date ones first, which the rollout would not drain again; then
        // the fullest: it would take longest to drain). It brings its rooms back with it, so
        // the need is recomputed with each one (it only grows, up to max).
        let mut candidates = operator_draining.clone();
        candidates.sort_by(|a, b| {
            is_up_to_date(b)
                .cmp(&is_up_to_date(a))
                .then_with(|| rooms_of(&b.name).cmp(&rooms_of(&a.name)))
                .then_with(|| a.name.cmp(&b.name))
        });
        let mut n_after = n_serving;
        for pod in candidates {
            if n_after >= desired {
                break;
            }
            plan.undrain.push(pod.name.clone());
            n_after += 1;
            n_draining -= 1;
            if is_up_to_date(pod) {
                n_up_to_date += 1;
            }
            load_rooms += rooms_of(&pod.name);
            load_participants += participants_of(&pod.name);
            wanted = wanted_for(load_rooms, load_participants);
            desired = wanted.clamp(min_replicas, max_replicas);
        }
        plan.create = desired.saturating_sub(n_after);
        n_up_to_date += plan.create;
        n_serving_after = n_after + plan.create;
    } else {
        let serving_pods: Vec<ServingPod> = serving
            .iter()
            .map(|pod| ServingPod {
                name: &pod.name,
                rooms: rooms_of(&pod.name),
                participants: participants_of(&pod.name),
                ready: pod.ready,
                up_to_date: is_up_to_date(pod),
            })
            .collect();
        for (pod, reason) in crate::rollout::pods_to_drain(&serving_pods, desired) {
            plan.start_drain.push(DrainStart {
                pod: pod.name.to_owned(),
                rooms: pod.rooms,
                reason,
            });
        }
        n_serving_after = n_serving;
    }
    // The rollout adds up-to-date pods on top of any scale-up (so that the next reconcile,
    // seeing them pending, adds none), never in a reconcile that drains.
    if plan.start_drain.is_empty() {
        plan.create_for_rollout = crate::rollout::rollout_creates(PoolCounts {
            desired,
            max_replicas,
            surge: crate::rollout::max_surge(spec, desired),
            serving: n_serving_after,
            up_to_date: n_up_to_date,
            draining: n_draining,
        });
        plan.create += plan.create_for_rollout;
    }

    if !plan.stuck.is_empty() {
        // Stuck pods are not capacity, but they are pods: with them the pool stays within
        // maxReplicas + maxSurge, or each bound would create another batch of stuck pods.
        let live_after = sorted_pods
            .iter()
            .filter(|pod| {
                !pod.terminating && !plan.delete.iter().any(|deletion| deletion.pod == pod.name)
            })
            .count();
        let ceiling = max_replicas + crate::rollout::max_surge(spec, desired);
        let room = ceiling.saturating_sub(u32::try_from(live_after).unwrap_or(u32::MAX));
        plan.create = plan.create.min(room);
        plan.create_for_rollout = plan.create_for_rollout.min(plan.create);
    }

    if wanted > max_replicas {
        plan.limited_by_max_replicas = Some(wanted);
    }
    plan.desired_replicas = desired;

    // Nodes to forget: every record of a pod that broke, and stale records of this pool's
    // pods that are gone, replaced by a newer record (container restart) or silent for
    // longer than the grace.
    let existing: BTreeMap<&str, &ObservedPod> = sorted_pods
        .iter()
        .filter(|pod| !pod.terminating)
        .map(|pod| (pod.name.as_str(), *pod))
        .collect();
    for node in nodes {
        let ours =
            is_pool_pod_name(pool_name, &node.name) || existing.contains_key(node.name.as_str());
        if !ours {
            continue;
        }
        let pod_broke = broken_pods.contains(&node.name.as_str());
        let stale = !node.is_alive(now);
        let superseded = newest_report
            .get(node.name.as_str())
            .is_some_and(|newest| newest.node_id != node.node_id);
        let pod_gone = !existing.contains_key(node.name.as_str());
        // A ready pod's silent record is released with the pod (deleted above once its
        // silence was seen for the grace), not before: its rooms may still be live.
        let silent_too_long = now - node.heartbeat_at > settings.heartbeat_grace
            && !registry_unavailable
            && existing
                .get(node.name.as_str())
                .is_none_or(|pod| !pod.ready);
        if pod_broke || (stale && (pod_gone || superseded || silent_too_long)) {
            plan.forget_nodes.push(ForgetNode {
                node_id: node.node_id,
                pod: node.name.clone(),
                rooms: node.rooms,
            });
        }
    }

    // The drain state each surviving pod's node should report.
    let deleted = |name: &str| plan.delete.iter().any(|deletion| deletion.pod == name);
    for pod in sorted_pods
        .iter()
        .filter(|pod| !pod.terminating && !deleted(&pod.name) && !bus_unreadable)
    {
        let wanted_draining = pod.manual_drain
            || plan.start_drain.iter().any(|drain| drain.pod == pod.name)
            || (pod.draining_since.is_some() && !plan.undrain.contains(&pod.name));
        let reported_draining = recent_report(&pod.name).map(|node| node.draining);
        let disagrees = match reported_draining {
            Some(reported) => reported != wanted_draining,
            // A node that has not heartbeat yet reads the request at its first heartbeat.
            None => wanted_draining,
        };
        if disagrees {
            plan.bus_drain_requests
                .push((pod.name.clone(), wanted_draining));
        }
    }

    plan.status = crate::status::pool_status(
        pool_name,
        generation,
        spec,
        template_hash,
        previous_status,
        &sorted_pods,
        &plan,
        &recent_report,
        now,
    );
    plan
}

/// Pods needed so that the free capacity of the serving pods covers every part of the
/// buffer, given the load they carry (`ceil` throughout: a fraction of a pod is a pod).
pub fn pods_needed_for_buffer(
    spec: &SfuPoolSpec,
    buffer: &crate::crd::Buffer,
    load_rooms: u64,
    load_participants: u64,
) -> u32 {
    let room_capacity = u64::try_from(spec.capacity.rooms.max(1)).unwrap_or(1);
    let participant_capacity = u64::try_from(spec.capacity.participants.max(1)).unwrap_or(1);
    let non_negative =
        |value: Option<i64>| value.map_or(0, |value| u64::try_from(value).unwrap_or(0));
    let mut needed = 0;
    needed = needed.max((load_rooms + non_negative(buffer.rooms)).div_ceil(room_capacity));
    needed = needed.max(
        (load_participants + non_negative(buffer.participants)).div_ceil(participant_capacity),
    );
    if let Some(percent) = buffer.percent {
        // free >= percent% of total  <=>  n * capacity * (100 - percent) >= load * 100
        let used_share = 100 - non_negative(Some(percent)).min(90);
        needed = needed.max((load_rooms * 100).div_ceil(room_capacity * used_share));
        needed = needed.max((load_participants * 100).div_ceil(participant_capacity * used_share));
    }
    u32::try_from(needed).unwrap_or(u32::MAX)
}

#[cfg(test)]
#[path = "decisions_tests.rs"]
mod tests;
