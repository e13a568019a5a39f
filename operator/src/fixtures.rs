//! Test builders on the real types (`SfuPool::test().with_replicas(3)`, [`TestPod`]) and the
//! `tower_test` mock apiserver: a [`Scenario`] names one reconcile path and
//! [`ApiServerVerifier::run`] asserts the exact requests that path makes, in order, and
//! answers them.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use convene_bus::{NodeState, SfuNodeRecord};
use http::{Method, Request, Response};
use k8s_openapi::api::core::v1::{Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use k8s_openapi::jiff::Timestamp;
use kube::client::Body;
use uuid::Uuid;

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::crd::{
    Buffer, Capacity, DRAINING_SINCE_ANNOTATION, HEARTBEAT_MISSING_SINCE_ANNOTATION,
    MANUAL_DRAIN_ANNOTATION, POOL_LABEL, PodTemplate, Rollout, SfuPool, SfuPoolSpec, SfuPoolStatus,
    TEMPLATE_HASH_LABEL,
};
use crate::decisions::{NodeReport, ObservedPod, PodPhase};

pub const NAMESPACE: &str = "convene";
pub const POOL_UID: &str = "6f1c1c9e-3d1e-4c6e-9b1a-5b0f2f3f7a10";

impl SfuPool {
    /// Pool `main` in `convene`: 2 replicas, 1..=10, 20 rooms / 200 participants per pod,
    /// no buffer, a one-hour drain deadline.
    pub fn test() -> Self {
        let mut pool = SfuPool::new(
            "main",
            SfuPoolSpec {
                replicas: 2,
                min_replicas: 1,
                max_replicas: 10,
                buffer: None,
                capacity: Capacity {
                    rooms: 20,
                    participants: 200,
                },
                placement: Default::default(),
                exposure: Default::default(),
                drain_deadline_seconds: 3600,
                template: PodTemplate {
                    image: "ghcr.io/convene-dev/convene:0.1.0".to_owned(),
                    ..PodTemplate::default()
                },
                rollout: None,
            },
        );
        pool.metadata.namespace = Some(NAMESPACE.to_owned());
        pool.metadata.uid = Some(POOL_UID.to_owned());
        pool.metadata.generation = Some(1);
        pool
    }

    pub fn with_replicas(mut self, replicas: i32) -> Self {
        self.spec.replicas = replicas;
        self
    }

    pub fn with_limits(mut self, min_replicas: i32, max_replicas: i32) -> Self {
        self.spec.min_replicas = min_replicas;
        self.spec.max_replicas = max_replicas;
        self
    }

    pub fn with_buffer(
        mut self,
        rooms: Option<i64>,
        participants: Option<i64>,
        percent: Option<i64>,
    ) -> Self {
        self.spec.buffer = Some(Buffer {
            rooms,
            participants,
            percent,
        });
        self
    }

    pub fn with_drain_deadline(mut self, seconds: i64) -> Self {
        self.spec.drain_deadline_seconds = seconds;
        self
    }

    pub fn with_image(mut self, image: &str) -> Self {
        self.spec.template.image = image.to_owned();
        self
    }

    pub fn with_max_surge(mut self, max_surge: IntOrString) -> Self {
        self.spec.rollout = Some(Rollout {
            max_surge: Some(max_surge),
        });
        self
    }

    pub fn with_status(mut self, status: SfuPoolStatus) -> Self {
        self.status = Some(status);
        self
    }
}

/// The template hash of `SfuPool::test()`'s pods: the one [`TestPod`]s carry unless
/// [`TestPod::outdated`].
pub fn current_hash() -> String {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| crate::pods::template_hash(&SfuPool::test()).unwrap())
        .clone()
}

/// A template hash no pool builds.
pub const OUTDATED_HASH: &str = "0ld0ld0ld0ld0ld0";

/// One pod of the test pool, convertible to what the decisions see and to the Pod the
/// apiserver returns.
#[derive(Debug, Clone)]
pub struct TestPod {
    pub name: String,
    pub phase: PodPhase,
    pub ready_since: Option<DateTime<Utc>>,
    /// Not ready since (a pod created then, or whose readiness was lost then).
    pub not_ready_since: Option<DateTime<Utc>>,
    pub terminating: bool,
    pub template_hash: Option<String>,
    pub manual_drain: bool,
    pub draining_since: Option<DateTime<Utc>>,
    pub heartbeat_missing_since: Option<DateTime<Utc>>,
}

impl TestPod {
    /// Running and ready for a minute.
    pub fn ready(name: &str, now: DateTime<Utc>) -> Self {
        Self {
            name: name.to_owned(),
            phase: PodPhase::Running,
            ready_since: Some(now - TimeDelta::seconds(60)),
            not_ready_since: None,
            terminating: false,
            template_hash: Some(current_hash()),
            manual_drain: false,
            draining_since: None,
            heartbeat_missing_since: None,
        }
    }

    /// Just created: not scheduled or not ready yet.
    pub fn pending(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            phase: PodPhase::Pending,
            ready_since: None,
            not_ready_since: None,
            terminating: false,
            template_hash: Some(current_hash()),
            manual_drain: false,
            draining_since: None,
            heartbeat_missing_since: None,
        }
    }

    /// Pending (or not ready) since `since`.
    pub fn not_ready_since(mut self, since: DateTime<Utc>) -> Self {
        self.ready_since = None;
        self.not_ready_since = Some(since);
        self
    }

    pub fn failed(mut self) -> Self {
        self.phase = PodPhase::Failed;
        self.ready_since = None;
        self
    }

    pub fn draining_since(mut self, since: DateTime<Utc>) -> Self {
        self.draining_since = Some(since);
        self
    }

    /// The operator first saw it without a fresh node record at `since`.
    pub fn heartbeat_missing_since(mut self, since: DateTime<Utc>) -> Self {
        self.heartbeat_missing_since = Some(since);
        self
    }

    pub fn manual_drain(mut self) -> Self {
        self.manual_drain = true;
        self
    }

    /// Built from an older template.
    pub fn outdated(mut self) -> Self {
        self.template_hash = Some(OUTDATED_HASH.to_owned());
        self
    }

    pub fn terminating(mut self) -> Self {
        self.terminating = true;
        self
    }

    pub fn observed(&self) -> ObservedPod {
        ObservedPod {
            name: self.name.clone(),
            phase: self.phase,
            ready: self.ready_since.is_some(),
            ready_since: self.ready_since,
            not_ready_since: self.not_ready_since.filter(|_| self.ready_since.is_none()),
            terminating: self.terminating,
            template_hash: self.template_hash.clone(),
            manual_drain: self.manual_drain,
            draining_since: self.draining_since,
            heartbeat_missing_since: self.heartbeat_missing_since,
        }
    }

    /// The Pod as the apiserver lists it: labelled, owned by the test pool.
    pub fn pod(&self) -> Pod {
        let mut annotations = BTreeMap::new();
        if self.manual_drain {
            annotations.insert(MANUAL_DRAIN_ANNOTATION.to_owned(), "true".to_owned());
        }
        if let Some(since) = self.draining_since {
            annotations.insert(
                DRAINING_SINCE_ANNOTATION.to_owned(),
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        }
        if let Some(since) = self.heartbeat_missing_since {
            annotations.insert(
                HEARTBEAT_MISSING_SINCE_ANNOTATION.to_owned(),
                since.to_rfc3339_opts(SecondsFormat::Secs, true),
            );
        }
        let ready = self.ready_since.is_some();
        let mut labels = crate::pods::selector_labels("main");
        if let Some(hash) = &self.template_hash {
            labels.insert(TEMPLATE_HASH_LABEL.to_owned(), hash.clone());
        }
        Pod {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(NAMESPACE.to_owned()),
                labels: Some(labels),
                annotations: Some(annotations),
                owner_references: Some(vec![OwnerReference {
                    api_version: "convene.dev/v1alpha1".to_owned(),
                    kind: "SfuPool".to_owned(),
                    name: "main".to_owned(),
                    uid: POOL_UID.to_owned(),
                    controller: Some(true),
                    block_owner_deletion: Some(true),
                }]),
                deletion_timestamp: self.terminating.then(|| Time(Timestamp::now())),
                ..ObjectMeta::default()
            },
            spec: None,
            status: Some(PodStatus {
                phase: Some(self.phase.as_str().to_owned()),
                conditions: Some(vec![PodCondition {
                    type_: "Ready".to_owned(),
                    status: if ready { "True" } else { "False" }.to_owned(),
                    last_transition_time: self.ready_since.or(self.not_ready_since).map(to_time),
                    ..PodCondition::default()
                }]),
                ..PodStatus::default()
            }),
        }
    }
}

fn to_time(time: DateTime<Utc>) -> Time {
    Time(Timestamp::from_second(time.timestamp()).unwrap_or(Timestamp::UNIX_EPOCH))
}

/// A live SFU node record for pod `name` (heartbeat a second before `now`).
pub fn record(name: &str, rooms: u64, participants: u64, now: DateTime<Utc>) -> SfuNodeRecord {
    SfuNodeRecord {
        id: Uuid::new_v4(),
        name: name.to_owned(),
        control_url: "http://10.0.0.7:8090".to_owned(),
        media_addr: "10.0.0.7:7882".to_owned(),
        state: NodeState::Ready,
        max_rooms: 20,
        max_participants: 200,
        rooms,
        participants,
        tracks: 0,
        forwarded_packets_per_second: 0,
        heartbeat_at: now - TimeDelta::seconds(1),
    }
}

/// [`record`] as the decisions see it.
pub fn node(name: &str, rooms: u64, participants: u64, now: DateTime<Utc>) -> NodeReport {
    NodeReport::from_record(&record(name, rooms, participants, now), 0)
}

type ApiServerHandle = tower_test::mock::Handle<Request<Body>, Response<Body>>;

/// One reconcile path, with what the apiserver holds and what the reconcile must do.
pub enum Scenario {
    /// The pods listed (maybe none) fall short: `creates` pods are created, one
    /// `ScalingUp` event, the status written.
    CreatePods { pods: Vec<Pod>, creates: usize },
    /// Scale-down: each of `drained` is annotated `draining-since` and gets a `ScalingDown`
    /// event, in order.
    Drain {
        pods: Vec<Pod>,
        drained: Vec<String>,
    },
    /// Nothing to change on any pod; the status is written only when `status_patched`.
    NoChange {
        pods: Vec<Pod>,
        status_patched: bool,
    },
    /// `deleted` pods are deleted (with `grace_period_seconds` when given) and each gets an
    /// event with its reason; `forgotten` node events come first; then `creates`
    /// replacements; the status is written when `status_patched` (it describes the pods
    /// as observed, so a deletion alone shows in the next reconcile's).
    Delete {
        pods: Vec<Pod>,
        forgotten: usize,
        deleted: Vec<(String, &'static str, Option<i64>)>,
        creates: usize,
        status_patched: bool,
    },
    /// A manual drain (or undrain) through the annotation: one `DrainRequested` (or
    /// `UndrainRequested`) event, then `creates` replacement pods.
    ManualDrain {
        pods: Vec<Pod>,
        drain: bool,
        creates: usize,
    },
    /// Silence bookkeeping: a `RegistryUnavailable` event when `registry_event`, then each
    /// of `marked` annotated `heartbeat-missing-since`, each of `cleared` unannotated; no
    /// pod deleted or created; the status written when `status_patched`.
    HeartbeatMissing {
        pods: Vec<Pod>,
        registry_event: bool,
        marked: Vec<String>,
        cleared: Vec<String>,
        status_patched: bool,
    },
    /// A rollout step: each of `drained` is annotated and gets a `RolloutDrain` event; then
    /// `creates` pods labelled with `template_hash` and one `RolloutCreate` event; then a
    /// `RolloutStarted` event when `started`, a `RolloutComplete` one when `completed`;
    /// the status written.
    Rollout {
        pods: Vec<Pod>,
        template_hash: String,
        drained: Vec<String>,
        creates: usize,
        started: bool,
        completed: bool,
    },
}

pub struct ApiServerVerifier(ApiServerHandle);

/// A client talking to the mock apiserver, and the verifier that answers it.
pub fn mock_client() -> (kube::Client, ApiServerVerifier) {
    let (mock_service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    (
        kube::Client::new(mock_service, NAMESPACE),
        ApiServerVerifier(handle),
    )
}

type Checked<T> = Result<T, String>;

impl ApiServerVerifier {
    /// Answers the scenario's requests in a task; the task fails if a request is not the
    /// expected one. The statuses written are returned, for the test to inspect.
    pub fn run(self, scenario: Scenario) -> tokio::task::JoinHandle<Checked<Vec<SfuPoolStatus>>> {
        tokio::spawn(async move {
            let mut verifier = self;
            let mut statuses = Vec::new();
            match scenario {
                Scenario::CreatePods { pods, creates } => {
                    verifier.list_pods(pods).await?;
                    verifier.create_pods(creates).await?;
                    statuses.push(verifier.patch_status().await?);
                }
                Scenario::Drain { pods, drained } => {
                    verifier.list_pods(pods).await?;
                    for pod in drained {
                        verifier
                            .patch_annotation(&pod, DRAINING_SINCE_ANNOTATION, true)
                            .await?;
                        verifier.event("ScalingDown").await?;
                    }
                    statuses.push(verifier.patch_status().await?);
                }
                Scenario::NoChange {
                    pods,
                    status_patched,
                } => {
                    verifier.list_pods(pods).await?;
                    if status_patched {
                        statuses.push(verifier.patch_status().await?);
                    }
                }
                Scenario::Delete {
                    pods,
                    forgotten,
                    deleted,
                    creates,
                    status_patched,
                } => {
                    verifier.list_pods(pods).await?;
                    for _ in 0..forgotten {
                        verifier.event("NodeForgotten").await?;
                    }
                    for (pod, reason, grace) in deleted {
                        verifier.delete_pod(&pod, grace).await?;
                        verifier.event(reason).await?;
                    }
                    verifier.create_pods(creates).await?;
                    if status_patched {
                        statuses.push(verifier.patch_status().await?);
                    }
                }
                Scenario::ManualDrain {
                    pods,
                    drain,
                    creates,
                } => {
                    verifier.list_pods(pods).await?;
                    verifier
                        .event(if drain {
                            "DrainRequested"
                        } else {
                            "UndrainRequested"
                        })
                        .await?;
                    verifier.create_pods(creates).await?;
                    statuses.push(verifier.patch_status().await?);
                }
                Scenario::HeartbeatMissing {
                    pods,
                    registry_event,
                    marked,
                    cleared,
                    status_patched,
                } => {
                    verifier.list_pods(pods).await?;
                    if registry_event {
                        verifier.event("RegistryUnavailable").await?;
                    }
                    for pod in marked {
                        verifier
                            .patch_annotation(&pod, HEARTBEAT_MISSING_SINCE_ANNOTATION, true)
                            .await?;
                    }
                    for pod in cleared {
                        verifier
                            .patch_annotation(&pod, HEARTBEAT_MISSING_SINCE_ANNOTATION, false)
                            .await?;
                    }
                    if status_patched {
                        statuses.push(verifier.patch_status().await?);
                    }
                }
                Scenario::Rollout {
                    pods,
                    template_hash,
                    drained,
                    creates,
                    started,
                    completed,
                } => {
                    verifier.list_pods(pods).await?;
                    for pod in drained {
                        verifier
                            .patch_annotation(&pod, DRAINING_SINCE_ANNOTATION, true)
                            .await?;
                        verifier.event("RolloutDrain").await?;
                    }
                    verifier
                        .create_labelled_pods(creates, Some(&template_hash), "RolloutCreate")
                        .await?;
                    if started {
                        verifier.event("RolloutStarted").await?;
                    }
                    if completed {
                        verifier.event("RolloutComplete").await?;
                    }
                    statuses.push(verifier.patch_status().await?);
                }
            }
            Ok(statuses)
        })
    }

    async fn next(
        &mut self,
    ) -> Checked<(
        Request<Body>,
        tower_test::mock::SendResponse<Response<Body>>,
    )> {
        let next = tokio::time::timeout(std::time::Duration::from_secs(5), self.0.next_request());
        match next.await {
            Ok(Some(pair)) => Ok(pair),
            Ok(None) => Err("the client went away before the expected request".to_owned()),
            Err(_) => Err("the expected request never came".to_owned()),
        }
    }

    async fn body_json(request: Request<Body>) -> Checked<serde_json::Value> {
        let bytes = request
            .into_body()
            .collect_bytes()
            .await
            .map_err(|error| error.to_string())?;
        serde_json::from_slice(&bytes).map_err(|error| error.to_string())
    }

    fn respond(
        send: tower_test::mock::SendResponse<Response<Body>>,
        json: &serde_json::Value,
    ) -> Checked<()> {
        let bytes = serde_json::to_vec(json).map_err(|error| error.to_string())?;
        let response = Response::builder()
            .body(Body::from(bytes))
            .map_err(|error| error.to_string())?;
        send.send_response(response);
        Ok(())
    }

    fn expect(request: &Request<Body>, method: Method, path: &str) -> Checked<()> {
        let uri = request.uri().to_string();
        if request.method() != method || !uri.starts_with(path) {
            return Err(format!(
                "expected {method} {path}, got {} {uri}",
                request.method()
            ));
        }
        Ok(())
    }

    async fn list_pods(&mut self, pods: Vec<Pod>) -> Checked<()> {
        let (request, send) = self.next().await?;
        Self::expect(
            &request,
            Method::GET,
            &format!("/api/v1/namespaces/{NAMESPACE}/pods?"),
        )?;
        let selector = format!("labelSelector={}%3Dmain", POOL_LABEL.replace('/', "%2F"));
        if !request.uri().to_string().contains(&selector) {
            return Err(format!(
                "pods listed without the pool selector: {}",
                request.uri()
            ));
        }
        let list = serde_json::json!({
            "apiVersion": "v1", "kind": "PodList", "metadata": {"resourceVersion": "1"}, "items": pods,
        });
        Self::respond(send, &list)
    }

    async fn create_pods(&mut self, count: usize) -> Checked<()> {
        self.create_labelled_pods(count, None, "ScalingUp").await
    }

    /// `count` pod creations (labelled with `template_hash` when given), then one `reason`
    /// event.
    async fn create_labelled_pods(
        &mut self,
        count: usize,
        template_hash: Option<&str>,
        reason: &str,
    ) -> Checked<()> {
        for _ in 0..count {
            let (request, send) = self.next().await?;
            Self::expect(
                &request,
                Method::POST,
                &format!("/api/v1/namespaces/{NAMESPACE}/pods?"),
            )?;
            let pod: Pod = serde_json::from_value(Self::body_json(request).await?)
                .map_err(|error| error.to_string())?;
            let name = pod.metadata.name.clone().unwrap_or_default();
            if !crate::decisions::is_pool_pod_name("main", &name) {
                return Err(format!("created pod {name:?} is not named main-xxxxx"));
            }
            let owned = pod.metadata.owner_references.iter().flatten().any(|owner| {
                owner.uid == POOL_UID && owner.controller == Some(true) && owner.kind == "SfuPool"
            });
            if !owned {
                return Err(format!("created pod {name} is not controlled by the pool"));
            }
            let label = pod
                .metadata
                .labels
                .as_ref()
                .and_then(|labels| labels.get(TEMPLATE_HASH_LABEL));
            if label.is_none()
                || template_hash.is_some_and(|hash| label.map(String::as_str) != Some(hash))
            {
                return Err(format!(
                    "created pod {name} has template hash {label:?}, expected {template_hash:?}"
                ));
            }
            Self::respond(
                send,
                &serde_json::to_value(&pod).map_err(|error| error.to_string())?,
            )?;
        }
        if count > 0 {
            self.event(reason).await?;
        }
        Ok(())
    }

    async fn patch_annotation(&mut self, pod: &str, key: &str, set: bool) -> Checked<()> {
        let (request, send) = self.next().await?;
        Self::expect(
            &request,
            Method::PATCH,
            &format!("/api/v1/namespaces/{NAMESPACE}/pods/{pod}?"),
        )?;
        let body = Self::body_json(request).await?;
        let value = &body["metadata"]["annotations"][key];
        if set != value.is_string() {
            return Err(format!("patch of {pod} sets {key} to {value}"));
        }
        Self::respond(
            send,
            &serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod}}),
        )
    }

    async fn delete_pod(&mut self, pod: &str, grace: Option<i64>) -> Checked<()> {
        let (request, send) = self.next().await?;
        Self::expect(
            &request,
            Method::DELETE,
            &format!("/api/v1/namespaces/{NAMESPACE}/pods/{pod}?"),
        )?;
        let body = Self::body_json(request).await?;
        let sent_grace = body["gracePeriodSeconds"].as_i64();
        if sent_grace != grace {
            return Err(format!(
                "deleting {pod} with grace {sent_grace:?}, expected {grace:?}"
            ));
        }
        Self::respond(
            send,
            &serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod}}),
        )
    }

    async fn event(&mut self, reason: &str) -> Checked<()> {
        let (request, send) = self.next().await?;
        Self::expect(
            &request,
            Method::POST,
            &format!("/apis/events.k8s.io/v1/namespaces/{NAMESPACE}/events?"),
        )?;
        let body = Self::body_json(request).await?;
        if body["reason"] != reason {
            return Err(format!(
                "expected a {reason} event, got {}: {}",
                body["reason"], body["note"]
            ));
        }
        if body["regarding"]["kind"] != "SfuPool" || body["regarding"]["name"] != "main" {
            return Err(format!("event not about the pool: {}", body["regarding"]));
        }
        Self::respond(send, &body)
    }

    async fn patch_status(&mut self) -> Checked<SfuPoolStatus> {
        let (request, send) = self.next().await?;
        Self::expect(
            &request,
            Method::PATCH,
            &format!("/apis/convene.dev/v1alpha1/namespaces/{NAMESPACE}/sfupools/main/status?"),
        )?;
        let body = Self::body_json(request).await?;
        let status: SfuPoolStatus =
            serde_json::from_value(body["status"].clone()).map_err(|error| error.to_string())?;
        let mut pool = SfuPool::test();
        pool.status = Some(status.clone());
        Self::respond(
            send,
            &serde_json::to_value(&pool).map_err(|error| error.to_string())?,
        )?;
        Ok(status)
    }
}
