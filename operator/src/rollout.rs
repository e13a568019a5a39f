//! Which serving pods to drain and how many up-to-date pods to add, when the pool has as many
//! serving pods as it needs or more: plain scale-down, and the rollout of a changed template.
//! Pure, called by [`crate::decisions::plan`].
//!
//! A rollout never cuts a meeting and never leaves the pool short: up-to-date pods are
//! created first (at most `maxSurge` beyond the desired count, and never more than
//! `maxReplicas + maxSurge` pods in all, draining ones included), and an outdated pod is
//! drained only while as many ready pods as desired keep serving without it. Its meetings
//! then end on it, as in any drain. Up-to-date pods are drained only to scale down.

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::crd::SfuPoolSpec;

/// The default `rollout.maxSurge`, percent of the desired pods.
pub const DEFAULT_MAX_SURGE_PERCENT: u32 = 25;

/// `rollout.maxSurge` as a number of pods for `desired` serving pods: a number as it is, a
/// percentage rounded up, at least 1. A string that is not a percentage (the CRD's rule
/// refuses it; an object written before the rule) is read as the default.
pub fn max_surge(spec: &SfuPoolSpec, desired: u32) -> u32 {
    let percent_of_desired = |percent: u32| {
        u32::try_from((u64::from(desired) * u64::from(percent)).div_ceil(100)).unwrap_or(u32::MAX)
    };
    let surge = match spec
        .rollout
        .as_ref()
        .and_then(|rollout| rollout.max_surge.as_ref())
    {
        None => percent_of_desired(DEFAULT_MAX_SURGE_PERCENT),
        Some(IntOrString::Int(pods)) => u32::try_from(*pods).unwrap_or(0),
        Some(IntOrString::String(text)) => {
            let percent = text
                .strip_suffix('%')
                .and_then(|digits| digits.parse::<u32>().ok())
                .unwrap_or(DEFAULT_MAX_SURGE_PERCENT);
            percent_of_desired(percent)
        }
    };
    surge.max(1)
}

/// A serving pod (not draining, not broken) as the choice sees it.
#[derive(Debug, Clone)]
pub(crate) struct ServingPod<'a> {
    pub name: &'a str,
    pub rooms: u64,
    pub participants: u64,
    pub ready: bool,
    /// Built from the current template.
    pub up_to_date: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrainReason {
    /// The pool has more serving pods than it needs.
    ScaleDown,
    /// An outdated pod makes way for an up-to-date one.
    Rollout,
}

/// The pods to drain when `serving` holds at least `desired` pods: outdated pods first
/// (they go anyway), then the emptiest (fewest rooms, then participants, not-ready before
/// ready). Never below `desired` serving pods; an outdated pod only while `desired` ready
/// pods remain without it (or it is not ready itself, and takes nothing with it); an
/// up-to-date pod only while `desired` up-to-date pods remain.
pub(crate) fn pods_to_drain<'a>(
    serving: &[ServingPod<'a>],
    desired: u32,
) -> Vec<(ServingPod<'a>, DrainReason)> {
    let count = |filter: &dyn Fn(&ServingPod) -> bool| {
        u32::try_from(serving.iter().filter(|pod| filter(pod)).count()).unwrap_or(u32::MAX)
    };
    let mut serving_left = count(&|_| true);
    let mut ready_left = count(&|pod| pod.ready);
    let mut up_to_date_left = count(&|pod| pod.up_to_date);

    let mut candidates: Vec<&ServingPod> = serving.iter().collect();
    candidates.sort_by_key(|pod| {
        (
            pod.up_to_date,
            pod.rooms,
            pod.participants,
            pod.ready,
            pod.name,
        )
    });
    let mut drains = Vec::new();
    for pod in candidates {
        if serving_left <= desired {
            break;
        }
        let drain = if pod.up_to_date {
            (up_to_date_left > desired).then_some(DrainReason::ScaleDown)
        } else {
            let keeps_ready_capacity = !pod.ready || ready_left > desired;
            keeps_ready_capacity.then_some(DrainReason::Rollout)
        };
        let Some(reason) = drain else { continue };
        serving_left -= 1;
        if pod.ready {
            ready_left -= 1;
        }
        if pod.up_to_date {
            up_to_date_left -= 1;
        }
        drains.push((pod.clone(), reason));
    }
    drains
}

/// What the pool looks like once this reconcile's scaling is carried out, for
/// [`rollout_creates`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolCounts {
    pub desired: u32,
    pub max_replicas: u32,
    pub surge: u32,
    /// Serving pods, counting those created or returned to service by this reconcile.
    pub serving: u32,
    /// Of those, built from the current template.
    pub up_to_date: u32,
    /// Pods the operator drains that stay for now (their meetings still run).
    pub draining: u32,
}

/// Up-to-date pods to create for the rollout: as many as outdated serving pods remain to be
/// replaced, at most `surge` serving pods beyond `desired`, and at most
/// `maxReplicas + surge` pods in all (a pool at its maximum waits for draining pods to go).
pub(crate) fn rollout_creates(counts: PoolCounts) -> u32 {
    let replacements_needed = counts.desired.saturating_sub(counts.up_to_date);
    let room_for_surge =
        (counts.desired.saturating_add(counts.surge)).saturating_sub(counts.serving);
    let room_under_ceiling = (counts.max_replicas.saturating_add(counts.surge))
        .saturating_sub(counts.serving.saturating_add(counts.draining));
    replacements_needed
        .min(room_for_surge)
        .min(room_under_ceiling)
}

#[cfg(test)]
#[path = "rollout_tests.rs"]
mod tests;
