//! The operator's Prometheus metrics, in an explicit registry carried by the [`Context`]
//! (no global recorder), served on `/metrics`.
//!
//! [`Context`]: crate::Context

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use crate::crd::SfuPoolStatus;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ErrorLabels {
    /// [`crate::Error::metric_label`].
    pub error: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DecisionLabels {
    /// `scale_up`, `drain`, `undrain`, `delete_drained`, `delete_drain_deadline`,
    /// `delete_failed`, `delete_no_heartbeat`, `forget_node`, `rollout_create`,
    /// `rollout_drain`.
    pub decision: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PoolLabels {
    pub pool: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PodStateLabels {
    pub pool: String,
    /// `ready`, `not_ready` or `draining`.
    pub state: &'static str,
}

pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    reconcile_errors: Family<ErrorLabels, Counter>,
    reconcile_duration: Histogram,
    decisions: Family<DecisionLabels, Counter>,
    pods: Family<PodStateLabels, Gauge>,
    outdated_pods: Family<PoolLabels, Gauge>,
    is_leader: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("convene_operator");
        let reconciles = Counter::default();
        registry.register("reconciles", "SfuPool reconciles run", reconciles.clone());
        let reconcile_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "reconcile_errors",
            "SfuPool reconciles that failed, by error",
            reconcile_errors.clone(),
        );
        // 1 ms to ~16 s.
        let reconcile_duration = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "reconcile_duration_seconds",
            "Time one SfuPool reconcile took",
            reconcile_duration.clone(),
        );
        let decisions = Family::<DecisionLabels, Counter>::default();
        registry.register(
            "decisions",
            "Scaling, drain and cleanup decisions carried out, by kind",
            decisions.clone(),
        );
        let pods = Family::<PodStateLabels, Gauge>::default();
        registry.register(
            "pods",
            "SFU pods of each pool by state, as of the last reconcile",
            pods.clone(),
        );
        let outdated_pods = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "outdated_pods",
            "SFU pods of each pool built from an older template (being replaced), as of the last reconcile",
            outdated_pods.clone(),
        );
        let is_leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica holds the leader Lease and reconciles",
            is_leader.clone(),
        );
        Self {
            registry,
            reconciles,
            reconcile_errors,
            reconcile_duration,
            decisions,
            pods,
            outdated_pods,
            is_leader,
        }
    }

    pub fn reconciled(&self, took: Duration) {
        self.reconciles.inc();
        self.reconcile_duration.observe(took.as_secs_f64());
    }

    pub fn reconcile_failed(&self, error: &crate::Error) {
        self.reconcile_errors
            .get_or_create(&ErrorLabels {
                error: error.metric_label(),
            })
            .inc();
    }

    pub fn decided(&self, decision: &'static str, count: u64) {
        self.decisions
            .get_or_create(&DecisionLabels { decision })
            .inc_by(count);
    }

    pub fn observe_pool(&self, pool: &str, status: &SfuPoolStatus) {
        let draining = i64::from(status.draining_replicas);
        let ready = status
            .pods
            .iter()
            .filter(|pod| pod.ready && !pod.draining)
            .count();
        let ready = i64::try_from(ready).unwrap_or(i64::MAX);
        let not_ready = i64::from(status.replicas) - ready - draining;
        for (state, value) in [
            ("ready", ready),
            ("not_ready", not_ready.max(0)),
            ("draining", draining),
        ] {
            self.pods
                .get_or_create(&PodStateLabels {
                    pool: pool.to_owned(),
                    state,
                })
                .set(value);
        }
        self.outdated_pods
            .get_or_create(&PoolLabels {
                pool: pool.to_owned(),
            })
            .set(i64::from(status.replicas - status.updated_replicas).max(0));
    }

    pub fn set_leader(&self, leader: bool) {
        self.is_leader.set(i64::from(leader));
    }

    /// The text exposition format, for `/metrics`.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail; an empty page is the worst case.
        if prometheus_client::encoding::text::encode(&mut text, &self.registry).is_err() {
            text.clear();
        }
        text
    }
}
