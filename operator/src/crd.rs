//! The `SfuPool` custom resource (`convene.dev/v1alpha1`): a pool of SFU pods that the
//! operator keeps at the wanted size. The CRD YAML in `crds/` is generated from these types
//! (`convene-operator crd`), so they are a wire contract with the apiserver, the Helm chart
//! and every SfuPool an SRE writes: rename nothing without a new version.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, EnvFromSource, EnvVar, ResourceRequirements, Toleration,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The label every pod of a pool carries, valued with the pool's name (the scale selector).
pub const POOL_LABEL: &str = "convene.dev/sfupool";
/// Set to `true` by an SRE to drain one pod by hand; removing it returns the pod to service.
pub const MANUAL_DRAIN_ANNOTATION: &str = "convene.dev/drain";
/// Set by the operator on the pods it drains to scale down: when the drain started (RFC 3339).
pub const DRAINING_SINCE_ANNOTATION: &str = "convene.dev/draining-since";
/// Set by the operator on a ready pod it first saw without a fresh node record in the bus
/// (RFC 3339), removed once the record is back. Kept on the pod, not in memory, so that the
/// grace a silent pod gets survives an operator restart or a change of leader.
pub const HEARTBEAT_MISSING_SINCE_ANNOTATION: &str = "convene.dev/heartbeat-missing-since";
/// Set by the operator on every pod it creates: a hash of the pod it built from the pool's
/// spec. A pod whose hash is not the current one runs an older template and is replaced.
pub const TEMPLATE_HASH_LABEL: &str = "convene.dev/template-hash";

/// A pool of Convene SFU (media) pods, kept at `replicas` or, with a `buffer`, scaled
/// between `minReplicas` and `maxReplicas` from the load the pods report.
// Several `printcolumn(type_ = "integer", ...)` are several columns, not a duplicate.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, KubeSchema, Serialize, Deserialize, Debug, Clone, PartialEq)]
#[kube(
    group = "convene.dev",
    version = "v1alpha1",
    kind = "SfuPool",
    doc = "A pool of Convene SFU (media) pods run by convene-operator",
    plural = "sfupools",
    shortname = "sfp",
    namespaced,
    status = "SfuPoolStatus",
    derive = "PartialEq",
    scale(
        spec_replicas_path = ".spec.replicas",
        status_replicas_path = ".status.replicas",
        label_selector_path = ".status.selector"
    ),
    printcolumn(name = "Desired", type_ = "integer", json_path = ".spec.replicas"),
    printcolumn(name = "Ready", type_ = "integer", json_path = ".status.readyReplicas"),
    printcolumn(name = "Rooms", type_ = "integer", json_path = ".status.rooms"),
    printcolumn(
        name = "Participants",
        type_ = "integer",
        json_path = ".status.participants"
    ),
    printcolumn(name = "Util", type_ = "string", json_path = ".status.utilization"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[x_kube(validation = Rule::new("self.minReplicas <= self.maxReplicas").message("minReplicas must not exceed maxReplicas"))]
#[x_kube(validation = Rule::new("!has(self.rollout) || !has(self.rollout.maxSurge) || type(self.rollout.maxSurge) == int || self.rollout.maxSurge.matches('^[0-9]+%$')").message("rollout.maxSurge must be a number or a percentage such as 25%"))]
#[serde(rename_all = "camelCase")]
pub struct SfuPoolSpec {
    /// Desired pods (the scale subresource's replicas). Exact without a `buffer`; with one,
    /// the floor the autoscaler starts from.
    #[serde(default = "default_replicas")]
    #[schemars(range(min = 0))]
    pub replicas: i32,
    /// Autoscaling (and `replicas`) never go below this.
    #[serde(default = "default_min_replicas")]
    #[schemars(range(min = 0))]
    pub min_replicas: i32,
    /// Autoscaling (and `replicas`) never go above this.
    #[serde(default = "default_max_replicas")]
    #[schemars(range(min = 1))]
    pub max_replicas: i32,
    /// Spare capacity kept warm; absent means no autoscaling (`replicas` is exact).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer: Option<Buffer>,
    /// What one pod holds.
    pub capacity: Capacity,
    /// How gateways place new rooms on the pool's pods.
    #[serde(default)]
    pub placement: Placement,
    /// How browsers reach the pods' media.
    #[serde(default)]
    pub exposure: Exposure,
    /// A draining pod is deleted once it hosts no rooms, or after this many seconds.
    #[serde(default = "default_drain_deadline_seconds")]
    #[schemars(range(min = 0))]
    pub drain_deadline_seconds: i64,
    /// The SFU pods.
    pub template: PodTemplate,
    /// How pods built from an older template are replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout: Option<Rollout>,
}

/// How a change to the pods' template rolls out: up-to-date pods are created first, then
/// outdated ones drained (never cut) once the ready pods cover the need.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rollout {
    /// Up-to-date pods created beyond the desired count while outdated pods still serve: a
    /// number, or a percentage of the desired pods rounded up (`"25%"`). Default `25%`; at
    /// least 1 (0 is read as 1: a rollout that never cuts a meeting needs a spare pod).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_surge: Option<IntOrString>,
}

/// Spare capacity to keep free; every field is optional and the largest need wins.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Buffer {
    /// Free room slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub rooms: Option<i64>,
    /// Free participant slots.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub participants: Option<i64>,
    /// Percent of the pool's total capacity (rooms and participants) kept free.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 90))]
    pub percent: Option<i64>,
}

/// What one SFU pod holds (it refuses more).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    #[schemars(range(min = 1))]
    pub rooms: i64,
    #[schemars(range(min = 1))]
    pub participants: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
pub enum Placement {
    /// Fill one pod before the next, so that empty pods can be scaled away.
    Packed,
    /// Spread rooms over every pod, so that one pod failing hits few meetings.
    #[default]
    Distributed,
}

impl From<Placement> for convene_bus::PlacementPolicy {
    fn from(placement: Placement) -> Self {
        match placement {
            Placement::Packed => convene_bus::PlacementPolicy::Packed,
            Placement::Distributed => convene_bus::PlacementPolicy::Distributed,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Exposure {
    #[serde(default)]
    pub mode: ExposureMode,
    /// The UDP port media arrives on (on the node with `HostNetwork`).
    #[serde(default = "default_udp_port")]
    #[schemars(range(min = 1, max = 65535))]
    pub udp_port: i32,
    /// An optional ICE-TCP port (HostNetwork only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub tcp_port: Option<i32>,
}

impl Default for Exposure {
    fn default() -> Self {
        Self {
            mode: ExposureMode::default(),
            udp_port: default_udp_port(),
            tcp_port: None,
        }
    }
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default, JsonSchema)]
pub enum ExposureMode {
    /// Pods use the node's network; browsers send media to the node's address.
    #[default]
    HostNetwork,
    /// Pods stay on the pod network; media is relayed by the coturn deployment.
    Turn,
}

/// The SFU pods' template: the few Pod fields an SRE tunes.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodTemplate {
    /// The Convene image (it runs `convene sfu`).
    #[schemars(length(min = 1))]
    pub image: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_pull_policy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_class_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account_name: Option<String>,
    /// Extra labels on every pod (the operator's own labels win).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// Extra environment variables for the `sfu` container.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Must provide `CONVENE_REDIS_URL` and `CONVENE_SFU_CONTROL_SECRET`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
}

/// What the operator last saw of the pool.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SfuPoolStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Pods that exist and are not terminating.
    #[serde(default)]
    pub replicas: i32,
    #[serde(default)]
    pub ready_replicas: i32,
    #[serde(default)]
    pub draining_replicas: i32,
    /// Pods built from the current template (the rest are being replaced).
    #[serde(default)]
    pub updated_replicas: i32,
    /// The current template's hash (the pods' `convene.dev/template-hash` label).
    #[serde(default)]
    pub template_hash: String,
    /// Rooms hosted on the pool's pods (as the pods report them).
    #[serde(default)]
    pub rooms: i64,
    #[serde(default)]
    pub participants: i64,
    /// max(rooms / room capacity, participants / participant capacity) over ready pods, as
    /// a percentage (`"8%"`).
    #[serde(default)]
    pub utilization: String,
    /// The pods' label selector, for the scale subresource and an HPA.
    #[serde(default)]
    pub selector: String,
    // Always serialised (even empty): the status is written with a merge patch, where a
    // missing list would keep the old one.
    #[serde(default)]
    pub pods: Vec<PodSummary>,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Default, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PodSummary {
    pub name: String,
    /// The pod's phase (`Pending`, `Running`, `Failed`, ...).
    pub phase: String,
    pub ready: bool,
    pub draining: bool,
    /// Built from the current template.
    #[serde(default)]
    pub up_to_date: bool,
    pub rooms: i64,
    pub participants: i64,
    /// The SFU node id the pod registered in the bus, once it heartbeats.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_age_seconds: Option<i64>,
}

/// A condition in the Kubernetes convention (`metav1.Condition`'s fields).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// `Ready`, `ScalingLimited`, `Degraded` or `Progressing`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `True` or `False`.
    pub status: String,
    pub reason: String,
    pub message: String,
    /// When `status` last changed (RFC 3339).
    pub last_transition_time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
}

fn default_replicas() -> i32 {
    1
}
fn default_min_replicas() -> i32 {
    1
}
fn default_max_replicas() -> i32 {
    10
}
fn default_drain_deadline_seconds() -> i64 {
    3600
}
fn default_udp_port() -> i32 {
    7882
}

/// The CRD as YAML, exactly what `convene-operator crd` prints and `crds/sfupool.yaml` holds.
pub fn crd_yaml() -> crate::Result<String> {
    use kube::CustomResourceExt;
    let crd = SfuPool::crd();
    let yaml =
        serde_saphyr::to_string(&crd).map_err(|error| crate::Error::Yaml(error.to_string()))?;
    Ok(format!(
        "# Generated by `cargo run -p convene-operator -- crd`; do not edit by hand.\n{yaml}"
    ))
}
