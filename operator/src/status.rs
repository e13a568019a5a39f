//! The status a plan writes: counts, load, utilisation, the per-pod summary and the
//! conditions, from the pods as observed. Pure, like the rest of the decisions.
//! [`rollout_transition`] tells the controller when a rollout starts or completes.

use chrono::{DateTime, SecondsFormat, Utc};
use convene_bus::registry::NODE_TTL;

use crate::crd::{Condition, PodSummary, SfuPoolSpec, SfuPoolStatus};
use crate::decisions::{DeleteReason, NodeReport, ObservedPod, Plan, PodPhase};

#[allow(clippy::too_many_arguments)] // the plan's inputs, passed on as they are
pub(crate) fn pool_status<'a>(
    pool_name: &str,
    generation: Option<i64>,
    spec: &SfuPoolSpec,
    template_hash: &str,
    previous_status: Option<&SfuPoolStatus>,
    sorted_pods: &[&ObservedPod],
    plan: &Plan,
    recent_report: &dyn Fn(&str) -> Option<&'a NodeReport>,
    now: DateTime<Utc>,
) -> SfuPoolStatus {
    let existing: Vec<&ObservedPod> = sorted_pods
        .iter()
        .copied()
        .filter(|pod| !pod.terminating)
        .collect();
    let is_draining = |pod: &ObservedPod| pod.manual_drain || pod.draining_since.is_some();
    let is_up_to_date = |pod: &ObservedPod| pod.template_hash.as_deref() == Some(template_hash);
    let summaries: Vec<PodSummary> = existing
        .iter()
        .map(|pod| {
            let report = recent_report(&pod.name);
            PodSummary {
                name: pod.name.clone(),
                phase: pod.phase.as_str().to_owned(),
                ready: pod.ready,
                draining: is_draining(pod),
                up_to_date: is_up_to_date(pod),
                rooms: report.map_or(0, |node| to_i64(node.rooms)),
                participants: report.map_or(0, |node| to_i64(node.participants)),
                node_id: report.map(|node| node.node_id.to_string()),
                heartbeat_age_seconds: report.map(|node| (now - node.heartbeat_at).num_seconds()),
            }
        })
        .collect();
    let ready_pods: Vec<&PodSummary> = summaries.iter().filter(|pod| pod.ready).collect();
    let ready_rooms: i64 = ready_pods.iter().map(|pod| pod.rooms).sum();
    let ready_participants: i64 = ready_pods.iter().map(|pod| pod.participants).sum();
    let n_ready = i64::try_from(ready_pods.len()).unwrap_or(i64::MAX);
    let utilization_percent = if n_ready == 0 {
        0
    } else {
        let rooms_percent = ready_rooms * 100 / (n_ready * spec.capacity.rooms.max(1));
        let participants_percent =
            ready_participants * 100 / (n_ready * spec.capacity.participants.max(1));
        rooms_percent.max(participants_percent)
    };
    let serving_ready = existing
        .iter()
        .filter(|pod| pod.ready && !is_draining(pod) && pod.phase == PodPhase::Running)
        .count();
    let serving_ready = u32::try_from(serving_ready).unwrap_or(u32::MAX);

    let previous_conditions = previous_status.map_or(&[][..], |status| &status.conditions[..]);
    let condition = |type_: &str, is_true: bool, reason: &str, message: String| {
        let status = if is_true { "True" } else { "False" };
        let last_transition_time = previous_conditions
            .iter()
            .find(|previous| previous.type_ == type_ && previous.status == status)
            .map(|previous| previous.last_transition_time.clone())
            .unwrap_or_else(|| now.to_rfc3339_opts(SecondsFormat::Secs, true));
        Condition {
            type_: type_.to_owned(),
            status: status.to_owned(),
            reason: reason.to_owned(),
            message,
            last_transition_time,
            observed_generation: generation,
        }
    };
    let ready = if serving_ready >= plan.desired_replicas {
        condition(
            "Ready",
            true,
            "PodsReady",
            format!("{serving_ready} of {} pods ready", plan.desired_replicas),
        )
    } else {
        condition(
            "Ready",
            false,
            "PodsNotReady",
            format!("{serving_ready} of {} pods ready", plan.desired_replicas),
        )
    };
    let scaling_limited = match plan.limited_by_max_replicas {
        Some(wanted) => condition(
            "ScalingLimited",
            true,
            "MaxReplicas",
            format!(
                "the load and buffer need {wanted} pods; maxReplicas is {}",
                spec.max_replicas
            ),
        ),
        None => condition(
            "ScalingLimited",
            false,
            "WithinLimits",
            format!("{} pods wanted", plan.desired_replicas),
        ),
    };
    let broken: Vec<String> = plan
        .delete
        .iter()
        .filter(|deletion| {
            matches!(
                deletion.reason,
                DeleteReason::Failed | DeleteReason::NoHeartbeat
            )
        })
        .map(|deletion| format!("{} ({})", deletion.pod, deletion.reason.as_str()))
        .collect();
    // Hand-drained pods are the SRE's to delete: they do not hold a rollout open.
    let outdated: Vec<&ObservedPod> = existing
        .iter()
        .copied()
        .filter(|pod| !is_up_to_date(pod) && !pod.manual_drain)
        .collect();
    let n_updated = existing.iter().filter(|pod| is_up_to_date(pod)).count();
    let progressing = if outdated.is_empty() {
        condition(
            "Progressing",
            false,
            "RolloutComplete",
            format!("all {n_updated} pods run the current template"),
        )
    } else {
        let n_outdated_draining = outdated
            .iter()
            .filter(|pod| pod.draining_since.is_some())
            .count();
        condition(
            "Progressing",
            true,
            "RollingOut",
            format!(
                "{n_updated} pods on the current template; {} outdated ({} serving, {n_outdated_draining} draining)",
                outdated.len(),
                outdated.len() - n_outdated_draining
            ),
        )
    };
    let degraded = if plan.registry_unavailable {
        condition(
            "Degraded",
            true,
            "RegistryUnavailable",
            format!(
                "no pod of the pool has a fresh SFU node record in the bus (or the bus cannot be read): no pod is deleted or drained for its silence until the records are back{}",
                if broken.is_empty() {
                    String::new()
                } else {
                    format!("; replacing {}", broken.join(", "))
                }
            ),
        )
    } else if !broken.is_empty() {
        condition(
            "Degraded",
            true,
            "PodsReplaced",
            format!("replacing {}", broken.join(", ")),
        )
    } else if !plan.stuck.is_empty() {
        condition(
            "Degraded",
            true,
            "PodsNotReady",
            format!(
                "pending or not ready for more than {} minutes: {}",
                crate::decisions::NOT_READY_BOUND.num_minutes(),
                plan.stuck.join(", ")
            ),
        )
    } else {
        condition(
            "Degraded",
            false,
            "Healthy",
            "no failed, silent or stuck pods".to_owned(),
        )
    };

    SfuPoolStatus {
        observed_generation: generation,
        replicas: i32::try_from(existing.len()).unwrap_or(i32::MAX),
        ready_replicas: i32::try_from(ready_pods.len()).unwrap_or(i32::MAX),
        draining_replicas: i32::try_from(existing.iter().filter(|pod| is_draining(pod)).count())
            .unwrap_or(i32::MAX),
        updated_replicas: i32::try_from(n_updated).unwrap_or(i32::MAX),
        template_hash: template_hash.to_owned(),
        rooms: summaries.iter().map(|pod| pod.rooms).sum(),
        participants: summaries.iter().map(|pod| pod.participants).sum(),
        utilization: format!("{utilization_percent}%"),
        selector: format!("{}={pool_name}", crate::crd::POOL_LABEL),
        pods: summaries,
        conditions: vec![ready, scaling_limited, degraded, progressing],
    }
}

/// Whether `status` already reports the registry outage (so its Event is published once).
pub fn registry_was_unavailable(status: Option<&SfuPoolStatus>) -> bool {
    status.is_some_and(|status| {
        status.conditions.iter().any(|condition| {
            condition.type_ == "Degraded" && condition.reason == "RegistryUnavailable"
        })
    })
}

/// `Some(true)` when `new` starts a rollout (its `Progressing` is `True` and the previous
/// status's was not), `Some(false)` when it completes one, `None` otherwise: the controller
/// announces each once.
pub fn rollout_transition(old: Option<&SfuPoolStatus>, new: &SfuPoolStatus) -> Option<bool> {
    let progressing = |status: &SfuPoolStatus| {
        status
            .conditions
            .iter()
            .any(|condition| condition.type_ == "Progressing" && condition.status == "True")
    };
    let was = old.is_some_and(progressing);
    let is = progressing(new);
    (was != is).then_some(is)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Whether `new` differs from `old` in anything but the heartbeat ages of live nodes (which
/// change every second and would otherwise patch the status on every reconcile).
pub fn status_changed(old: Option<&SfuPoolStatus>, new: &SfuPoolStatus) -> bool {
    let Some(old) = old else { return true };
    let normalise = |status: &SfuPoolStatus| {
        let mut status = status.clone();
        for pod in &mut status.pods {
            if pod
                .heartbeat_age_seconds
                .is_some_and(|age| age < NODE_TTL.num_seconds())
            {
                pod.heartbeat_age_seconds = Some(0);
            }
        }
        status
    };
    normalise(old) != normalise(new)
}
