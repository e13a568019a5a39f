//! The kube `Controller` on `SfuPool`s (owning their Pods): observe, [`plan`], carry the plan
//! out through the Kubernetes API and the bus, write the status.
//!
//! A reconcile runs on every change to a pool or one of its pods, and every
//! `requeue_interval` besides, because the load the pods report in the bus changes without
//! any Kubernetes event. It is safe to run at any time and any number of times: it reads the
//! pool's pods afresh and decides from them, never from memory.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use convene_bus::Bus;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ObjectReference, Pod};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::runtime::watcher;
use kube::{Api, Client, Resource, ResourceExt};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::crd::{
    DRAINING_SINCE_ANNOTATION, HEARTBEAT_MISSING_SINCE_ANNOTATION, POOL_LABEL, SfuPool,
};
use crate::decisions::{self, DeleteReason, DrainReason, NodeReport, Plan, Settings};
use crate::metrics::Metrics;
use crate::pods::{observe_pod, random_pod_name, sfu_pod, template_hash};
use crate::{Error, Result};

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    pub client: Client,
    pub bus: Arc<dyn Bus>,
    pub recorder: Recorder,
    pub metrics: Arc<Metrics>,
    pub settings: Settings,
    /// How often a pool is reconciled without any Kubernetes event.
    pub requeue_interval: Duration,
    /// Set while this replica holds the leader Lease; a replica that does not reconciles
    /// nothing (a second guard: [`crate::leader`] also stops the controller).
    pub leading: Arc<AtomicBool>,
}

impl Context {
    pub fn new(client: Client, bus: Arc<dyn Bus>, metrics: Arc<Metrics>, instance: String) -> Self {
        let reporter = Reporter {
            controller: "convene-operator".to_owned(),
            instance: Some(instance),
        };
        Self {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            bus,
            metrics,
            settings: Settings::default(),
            requeue_interval: Duration::from_secs(5),
            leading: Arc::new(AtomicBool::new(false)),
        }
    }
}

/// Runs the controller for the pools in `namespace` until `shutdown` is cancelled (then lets
/// the running reconciles finish).
pub async fn run_controller(ctx: Arc<Context>, namespace: &str, shutdown: CancellationToken) {
    let pools = Api::<SfuPool>::namespaced(ctx.client.clone(), namespace);
    let pods = Api::<Pod>::namespaced(ctx.client.clone(), namespace);
    Controller::new(pools, watcher::Config::default().any_semantic())
        .owns(
            pods,
            watcher::Config::default().labels("app.kubernetes.io/managed-by=convene-operator"),
        )
        .graceful_shutdown_on(shutdown.cancelled_owned())
        .run(reconcile, error_policy, ctx)
        .for_each(|result| async move {
            match result {
                Ok((pool, _)) => tracing::debug!(pool = %pool.name, "reconciled"),
                Err(error) => tracing::warn!(%error, "reconcile failed"),
            }
        })
        .await;
}

/// One reconcile of one pool.
pub async fn reconcile(pool: Arc<SfuPool>, ctx: Arc<Context>) -> Result<Action> {
    if !ctx.leading.load(Ordering::SeqCst) {
        return Ok(Action::requeue(ctx.requeue_interval));
    }
    if pool.metadata.deletion_timestamp.is_some() {
        // Being deleted (foreground): the garbage collector removes its pods; creating
        // replacements would fight it.
        return Ok(Action::await_change());
    }
    let started = Instant::now();
    let result = reconcile_pool(&pool, &ctx, Utc::now()).await;
    ctx.metrics.reconciled(started.elapsed());
    result.map(|_| Action::requeue(ctx.requeue_interval))
}

/// A failed reconcile is retried soon; the error is counted under its label.
pub fn error_policy(pool: Arc<SfuPool>, error: &Error, ctx: Arc<Context>) -> Action {
    tracing::warn!(pool = %pool.name_any(), %error, "reconcile failed; retrying");
    ctx.metrics.reconcile_failed(error);
    Action::requeue(ctx.requeue_interval * 2)
}

/// Observes `pool`, plans, carries the plan out; returns the plan (for tests and logs).
pub async fn reconcile_pool(pool: &SfuPool, ctx: &Context, now: DateTime<Utc>) -> Result<Plan> {
    let namespace = pool.namespace().ok_or(Error::MissingNamespace)?;
    let pool_name = pool.name_any();
    let pool_uid = pool.metadata.uid.clone().unwrap_or_default();
    let pods_api = Api::<Pod>::namespaced(ctx.client.clone(), &namespace);
    let pools_api = Api::<SfuPool>::namespaced(ctx.client.clone(), &namespace);

    // Only the pods this pool controls: a pod that merely carries the label is not ours.
    let selector = format!("{POOL_LABEL}={pool_name}");
    let listed = pods_api
        .list(&ListParams::default().labels(&selector))
        .await?;
    let owned: Vec<&Pod> = listed
        .items
        .iter()
        .filter(|pod| {
            pod.owner_references()
                .iter()
                .any(|owner| owner.controller == Some(true) && owner.uid == pool_uid)
        })
        .collect();
    let observed_pods: Vec<_> = owned.iter().map(|pod| observe_pod(pod)).collect();

    // A bus that cannot be read is a registry outage for the plan (which then deletes and
    // drains nothing on the registry's word), not a failed reconcile: failed pods are still
    // replaced meanwhile.
    let nodes: Option<Vec<NodeReport>> = match ctx.bus.sfu_all_nodes().await {
        Ok(records) => Some(
            records
                .iter()
                .map(|(record, claimed)| NodeReport::from_record(record, *claimed))
                .collect(),
        ),
        Err(error) => {
            tracing::warn!(pool = %pool_name, %error, "reading the SFU node records failed");
            None
        }
    };
    if nodes.is_some() {
        ctx.bus
            .sfu_set_placement_policy(pool.spec.placement.into())
            .await?;
    }

    let template_hash = template_hash(pool)?;
    let plan = decisions::plan(
        &pool_name,
        pool.metadata.generation,
        &pool.spec,
        &template_hash,
        pool.status.as_ref(),
        &observed_pods,
        nodes.as_deref(),
        now,
        ctx.settings,
    );
    let pool_ref = pool.object_ref(&());
    let events = EventSink {
        ctx,
        pool_ref: &pool_ref,
    };

    if plan.registry_unavailable && !crate::status::registry_was_unavailable(pool.status.as_ref()) {
        events
            .publish(
                EventType::Warning,
                "RegistryUnavailable",
                "Hold",
                "no pod of the pool has a fresh SFU node record in the bus (a Redis restart or outage?): no pod is deleted or drained for its silence until the records are back".to_owned(),
            )
            .await;
    }

    let since = now.to_rfc3339_opts(SecondsFormat::Secs, true);
    for pod in &plan.mark_heartbeat_missing {
        let patch =
            json!({"metadata": {"annotations": {HEARTBEAT_MISSING_SINCE_ANNOTATION: since}}});
        pods_api
            .patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    for pod in &plan.clear_heartbeat_missing {
        let patch =
            json!({"metadata": {"annotations": {HEARTBEAT_MISSING_SINCE_ANNOTATION: null}}});
        pods_api
            .patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }

    // Claims first: the sooner a dead node's rooms are released, the sooner gateways place
    // them again.
    for forget in &plan.forget_nodes {
        let released = ctx.bus.sfu_forget_node(forget.node_id).await?;
        ctx.metrics.decided("forget_node", 1);
        events
            .publish(
                EventType::Warning,
                "NodeForgotten",
                "ReleaseRooms",
                format!(
                    "SFU node {} of pod {} stopped heartbeating; released {} room claims so gateways place them again",
                    forget.node_id,
                    forget.pod,
                    released.len()
                ),
            )
            .await;
    }

    for deletion in &plan.delete {
        let params = match deletion.reason {
            // The pod drained for its whole deadline already; its own SIGTERM drain must
            // not start another one.
            DeleteReason::DrainDeadline | DeleteReason::Failed | DeleteReason::NoHeartbeat => {
                DeleteParams {
                    grace_period_seconds: Some(30),
                    ..DeleteParams::default()
                }
            }
            DeleteReason::Drained => DeleteParams::default(),
        };
        match pods_api.delete(&deletion.pod, &params).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
        let (decision, event_type) = match deletion.reason {
            DeleteReason::Drained => ("delete_drained", EventType::Normal),
            DeleteReason::DrainDeadline => ("delete_drain_deadline", EventType::Warning),
            DeleteReason::Failed => ("delete_failed", EventType::Warning),
            DeleteReason::NoHeartbeat => ("delete_no_heartbeat", EventType::Warning),
        };
        ctx.metrics.decided(decision, 1);
        events
            .publish(
                event_type,
                deletion.reason.as_str(),
                "DeletePod",
                format!(
                    "deleted pod {} ({}, {} rooms)",
                    deletion.pod,
                    deletion.reason.as_str(),
                    deletion.rooms
                ),
            )
            .await;
    }

    for pod in &plan.undrain {
        let patch = json!({"metadata": {"annotations": {DRAINING_SINCE_ANNOTATION: null}}});
        pods_api
            .patch(pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        ctx.bus.sfu_request_drain(pod, false).await?;
        ctx.metrics.decided("undrain", 1);
        events
            .publish(
                EventType::Normal,
                "Undrained",
                "Undrain",
                format!("pod {pod} returned to service: the pool needs its capacity again"),
            )
            .await;
    }

    for drain in &plan.start_drain {
        let patch = json!({"metadata": {"annotations": {DRAINING_SINCE_ANNOTATION: since}}});
        pods_api
            .patch(&drain.pod, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        ctx.bus.sfu_request_drain(&drain.pod, true).await?;
        let (decision, reason, note) = match drain.reason {
            DrainReason::ScaleDown => (
                "drain",
                "ScalingDown",
                format!(
                    "draining pod {} ({} rooms) to scale down to {} pods; it is deleted when empty or after {} s",
                    drain.pod, drain.rooms, plan.desired_replicas, pool.spec.drain_deadline_seconds
                ),
            ),
            DrainReason::Rollout => (
                "rollout_drain",
                "RolloutDrain",
                format!(
                    "draining outdated pod {} ({} rooms): up-to-date pods cover the {} wanted; it is deleted when empty or after {} s",
                    drain.pod, drain.rooms, plan.desired_replicas, pool.spec.drain_deadline_seconds
                ),
            ),
        };
        ctx.metrics.decided(decision, 1);
        events
            .publish(EventType::Normal, reason, "Drain", note)
            .await;
    }

    for (pod, drain) in &plan.bus_drain_requests {
        let already_requested =
            plan.undrain.contains(pod) || plan.start_drain.iter().any(|start| &start.pod == pod);
        // The node reads a request at its next heartbeat (every 2 s); until then its record
        // disagrees while the bus already holds the request: nothing to send or announce.
        if already_requested || ctx.bus.sfu_drain_requested(pod).await? == *drain {
            continue;
        }
        ctx.bus.sfu_request_drain(pod, *drain).await?;
        let (reason, note) = if *drain {
            (
                "DrainRequested",
                format!("asked pod {pod}'s SFU node to drain"),
            )
        } else {
            (
                "UndrainRequested",
                format!("asked pod {pod}'s SFU node to return to service"),
            )
        };
        events
            .publish(EventType::Normal, reason, "RequestDrain", note)
            .await;
    }

    let scale_up = plan.create - plan.create_for_rollout;
    if scale_up > 0 {
        let created = create_pods(pool, &pods_api, scale_up).await?;
        ctx.metrics.decided("scale_up", u64::from(scale_up));
        events
            .publish(
                EventType::Normal,
                "ScalingUp",
                "CreatePods",
                format!(
                    "created {} ({} serving pods wanted)",
                    created.join(", "),
                    plan.desired_replicas
                ),
            )
            .await;
    }
    if plan.create_for_rollout > 0 {
        let created = create_pods(pool, &pods_api, plan.create_for_rollout).await?;
        ctx.metrics
            .decided("rollout_create", u64::from(plan.create_for_rollout));
        events
            .publish(
                EventType::Normal,
                "RolloutCreate",
                "CreatePods",
                format!(
                    "created {} on the current template {template_hash} to replace outdated pods ({} of {} pods up to date before)",
                    created.join(", "),
                    plan.status.updated_replicas,
                    plan.status.replicas
                ),
            )
            .await;
    }

    match crate::status::rollout_transition(pool.status.as_ref(), &plan.status) {
        Some(true) => {
            events
                .publish(
                    EventType::Normal,
                    "RolloutStarted",
                    "Rollout",
                    format!(
                        "the pod template changed (now {template_hash}): {} of {} pods are outdated and will be replaced, {} at a time",
                        plan.status.replicas - plan.status.updated_replicas,
                        plan.status.replicas,
                        crate::rollout::max_surge(&pool.spec, plan.desired_replicas)
                    ),
                )
                .await;
        }
        Some(false) => {
            events
                .publish(
                    EventType::Normal,
                    "RolloutComplete",
                    "Rollout",
                    format!("every pod runs the current template {template_hash}"),
                )
                .await;
        }
        None => {}
    }

    ctx.metrics.observe_pool(&pool_name, &plan.status);
    if crate::status::status_changed(pool.status.as_ref(), &plan.status) {
        let patch = json!({"status": plan.status});
        pools_api
            .patch_status(&pool_name, &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
    }
    Ok(plan)
}

/// Creates `count` pods of `pool` with fresh names; returns their names.
async fn create_pods(pool: &SfuPool, pods_api: &Api<Pod>, count: u32) -> Result<Vec<String>> {
    let pool_name = pool.name_any();
    let mut created = Vec::new();
    for _ in 0..count {
        let pod = sfu_pod(pool, &random_pod_name(&pool_name))?;
        let pod = pods_api.create(&PostParams::default(), &pod).await?;
        created.push(pod.name_any());
    }
    Ok(created)
}

/// Publishes the pool's Kubernetes Events. An event that cannot be written is logged, never
/// fails the reconcile: the decision it reports was already carried out.
struct EventSink<'a> {
    ctx: &'a Context,
    pool_ref: &'a ObjectReference,
}

impl EventSink<'_> {
    async fn publish(&self, type_: EventType, reason: &str, action: &str, note: String) {
        tracing::info!(reason, %note, "decision");
        let event = Event {
            type_,
            reason: reason.to_owned(),
            note: Some(note),
            action: action.to_owned(),
            secondary: None,
        };
        if let Err(error) = self.ctx.recorder.publish(&event, self.pool_ref).await {
            tracing::warn!(%error, reason, "publishing an event failed");
        }
    }
}

#[cfg(test)]
#[path = "controller_tests.rs"]
mod tests;
