//! The SFU Pod the operator creates for a pool (`convene sfu`), built from the pool's spec
//! and labelled with the hash of what it was built from (so that a changed spec shows which
//! pods are outdated), and the reading of observed Pods back into [`ObservedPod`]s. Pure: no
//! API calls.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EnvVar, EnvVarSource, HTTPGetAction,
    ObjectFieldSelector, Pod, PodSecurityContext, PodSpec, Probe, SeccompProfile, SecurityContext,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kube::Resource;

use crate::crd::{
    DRAINING_SINCE_ANNOTATION, ExposureMode, HEARTBEAT_MISSING_SINCE_ANNOTATION,
    MANUAL_DRAIN_ANNOTATION, POOL_LABEL, SfuPool, TEMPLATE_HASH_LABEL,
};
use crate::decisions::{ObservedPod, PodPhase};

/// The SFU's internal control API (gateways and probes reach it on the pod IP).
pub const CONTROL_PORT: i32 = 8090;
/// The distroless `nonroot` user the image runs as.
const NON_ROOT_UID: i64 = 65532;

/// The labels every pod of `pool_name` carries; the first three select them.
pub fn selector_labels(pool_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        (
            "app.kubernetes.io/name".to_owned(),
            "convene-sfu".to_owned(),
        ),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "convene-operator".to_owned(),
        ),
        (POOL_LABEL.to_owned(), pool_name.to_owned()),
    ])
}

/// `<pool>-<5 random lowercase alphanumerics>`, like a ReplicaSet's pods.
pub fn random_pod_name(pool_name: &str) -> String {
    // 32 symbols, so a random byte modulo the length picks each one equally often.
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bytes = [0u8; 5];
    rand::fill(&mut bytes);
    let suffix: String = bytes
        .iter()
        .map(|byte| char::from(ALPHABET[usize::from(*byte) % ALPHABET.len()]))
        .collect();
    format!("{pool_name}-{suffix}")
}

fn env(name: &str, value: impl Into<String>) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: Some(value.into()),
        value_from: None,
    }
}

fn env_from_field(name: &str, field_path: &str) -> EnvVar {
    EnvVar {
        name: name.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                api_version: None,
                field_path: field_path.to_owned(),
            }),
            ..EnvVarSource::default()
        }),
    }
}

fn http_probe(path: &str, period_seconds: i32, failure_threshold: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.to_owned()),
            port: IntOrString::Int(CONTROL_PORT),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period_seconds),
        failure_threshold: Some(failure_threshold),
        ..Probe::default()
    }
}

/// The SFU pod `name` of `pool` (owned by it, so it goes when the pool goes), labelled with
/// its template's hash.
pub fn sfu_pod(pool: &SfuPool, name: &str) -> crate::Result<Pod> {
    let namespace = pool
        .metadata
        .namespace
        .clone()
        .ok_or(crate::Error::MissingNamespace)?;
    let owner = pool
        .controller_owner_ref(&())
        .ok_or_else(|| crate::Error::InvalidSpec("the sfupool has no uid yet".to_owned()))?;
    let built = built_pod(pool);
    let template_hash = built.hash()?;
    let mut labels = built.labels;
    labels.insert(TEMPLATE_HASH_LABEL.to_owned(), template_hash);
    Ok(Pod {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace),
            labels: Some(labels),
            annotations: built.annotations,
            owner_references: Some(vec![owner]),
            ..ObjectMeta::default()
        },
        spec: Some(built.spec),
        status: None,
    })
}

/// The hash of the pod `pool` builds now (the `convene.dev/template-hash` of its new pods).
pub fn template_hash(pool: &SfuPool) -> crate::Result<String> {
    built_pod(pool).hash()
}

/// Everything of a pool's pod that comes from the pool's spec: what the template hash covers.
/// The pod's name, namespace and owner are not in it (the same for every pod of the pool).
struct BuiltPod {
    labels: BTreeMap<String, String>,
    annotations: Option<BTreeMap<String, String>>,
    spec: PodSpec,
}

impl BuiltPod {
    /// 64-bit FNV-1a of the JSON of the labels, annotations and pod spec, as 16 hex digits (a
    /// valid label value). FNV, not `DefaultHasher`: the hash is stored on pods and compared
    /// by the next operator version, so it must not depend on the Rust release. Struct
    /// fields serialise in declaration order and maps sorted, so equal pods hash equal.
    fn hash(&self) -> crate::Result<String> {
        let json = serde_json::to_vec(&(&self.labels, &self.annotations, &self.spec))
            .map_err(crate::Error::Json)?;
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in json {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        Ok(format!("{hash:016x}"))
    }
}

fn built_pod(pool: &SfuPool) -> BuiltPod {
    let pool_name = pool.metadata.name.clone().unwrap_or_default();
    let spec = &pool.spec;
    let template = &spec.template;
    let udp_port = spec.exposure.udp_port;
    let host_network = spec.exposure.mode == ExposureMode::HostNetwork;

    let mut labels = template.labels.clone();
    labels.extend(selector_labels(&pool_name));

    // Referenced variables ($(POD_IP)) must be defined before the ones that use them.
    let mut container_env = vec![
        env_from_field("CONVENE_SFU_NODE_NAME", "metadata.name"),
        env_from_field("POD_IP", "status.podIP"),
        env_from_field("HOST_IP", "status.hostIP"),
        env(
            "CONVENE_SFU_CONTROL_ADDR",
            format!("0.0.0.0:{CONTROL_PORT}"),
        ),
        env(
            "CONVENE_SFU_CONTROL_URL",
            format!("http://$(POD_IP):{CONTROL_PORT}"),
        ),
        env("CONVENE_SFU_UDP_ADDR", format!("0.0.0.0:{udp_port}")),
        env(
            "CONVENE_SFU_ADVERTISED_ADDR",
            if host_network {
                format!("$(HOST_IP):{udp_port}")
            } else {
                format!("$(POD_IP):{udp_port}")
            },
        ),
        env("CONVENE_SFU_MAX_ROOMS", spec.capacity.rooms.to_string()),
        env(
            "CONVENE_SFU_MAX_PARTICIPANTS",
            spec.capacity.participants.to_string(),
        ),
        env(
            "CONVENE_SFU_DRAIN_TIMEOUT_SECONDS",
            spec.drain_deadline_seconds.to_string(),
        ),
    ];
    let host_port = |port: i32| host_network.then_some(port);
    let mut ports = vec![
        ContainerPort {
            name: Some("control".to_owned()),
            container_port: CONTROL_PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        },
        ContainerPort {
            name: Some("media".to_owned()),
            container_port: udp_port,
            host_port: host_port(udp_port),
            protocol: Some("UDP".to_owned()),
            ..ContainerPort::default()
        },
    ];
    if let (Some(tcp_port), true) = (spec.exposure.tcp_port, host_network) {
        container_env.push(env("CONVENE_SFU_TCP_ADDR", format!("0.0.0.0:{tcp_port}")));
        ports.push(ContainerPort {
            name: Some("media-tcp".to_owned()),
            container_port: tcp_port,
            host_port: host_port(tcp_port),
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        });
    }
    container_env.extend(template.env.iter().cloned());

    let container = Container {
        name: "sfu".to_owned(),
        image: Some(template.image.clone()),
        image_pull_policy: template.image_pull_policy.clone(),
        args: Some(vec!["sfu".to_owned()]),
        env: Some(container_env),
        env_from: (!template.env_from.is_empty()).then(|| template.env_from.clone()),
        ports: Some(ports),
        resources: template.resources.clone(),
        liveness_probe: Some(http_probe("/healthz", 10, 3)),
        readiness_probe: Some(http_probe("/readyz", 5, 2)),
        security_context: Some(SecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(NON_ROOT_UID),
            read_only_root_filesystem: Some(true),
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".to_owned()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    };

    let service_account_name = template
        .service_account_name
        .clone()
        .filter(|name| !name.is_empty());
    BuiltPod {
        labels,
        annotations: (!template.annotations.is_empty()).then(|| template.annotations.clone()),
        spec: PodSpec {
            containers: vec![container],
            host_network: host_network.then_some(true),
            dns_policy: host_network.then(|| "ClusterFirstWithHostNet".to_owned()),
            // The node drains on SIGTERM for up to the deadline; it must not be killed first.
            termination_grace_period_seconds: Some(spec.drain_deadline_seconds + 30),
            node_selector: (!template.node_selector.is_empty())
                .then(|| template.node_selector.clone()),
            tolerations: (!template.tolerations.is_empty()).then(|| template.tolerations.clone()),
            affinity: template.affinity.clone(),
            priority_class_name: template
                .priority_class_name
                .clone()
                .filter(|name| !name.is_empty()),
            service_account_name: service_account_name.clone(),
            // The SFU never talks to the apiserver: no token to steal unless the pool names
            // an account (which it does for a reason), and no service-link variables (a
            // namespace with many Services gives every pod hundreds of them).
            automount_service_account_token: service_account_name.is_none().then_some(false),
            enable_service_links: Some(false),
            security_context: Some(PodSecurityContext {
                run_as_non_root: Some(true),
                run_as_user: Some(NON_ROOT_UID),
                run_as_group: Some(NON_ROOT_UID),
                seccomp_profile: Some(SeccompProfile {
                    type_: "RuntimeDefault".to_owned(),
                    localhost_profile: None,
                }),
                ..PodSecurityContext::default()
            }),
            ..PodSpec::default()
        },
    }
}

fn to_chrono(time: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(
        time.0.as_second(),
        time.0.subsec_nanosecond().try_into().ok()?,
    )
}

/// What the decisions need of an observed pod.
pub fn observe_pod(pod: &Pod) -> ObservedPod {
    let annotations = pod.metadata.annotations.as_ref();
    let annotation = |key: &str| annotations.and_then(|annotations| annotations.get(key));
    let status = pod.status.as_ref();
    let ready_condition = status
        .and_then(|status| status.conditions.as_ref())
        .and_then(|conditions| {
            conditions
                .iter()
                .find(|condition| condition.type_ == "Ready")
        });
    let ready = ready_condition.is_some_and(|condition| condition.status == "True");
    ObservedPod {
        name: pod.metadata.name.clone().unwrap_or_default(),
        phase: PodPhase::parse(status.and_then(|status| status.phase.as_deref())),
        ready,
        ready_since: ready_condition
            .filter(|_| ready)
            .and_then(|condition| condition.last_transition_time.as_ref())
            .and_then(to_chrono),
        not_ready_since: if ready {
            None
        } else {
            ready_condition
                .and_then(|condition| condition.last_transition_time.as_ref())
                .or(pod.metadata.creation_timestamp.as_ref())
                .and_then(to_chrono)
        },
        terminating: pod.metadata.deletion_timestamp.is_some(),
        template_hash: pod
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(TEMPLATE_HASH_LABEL))
            .cloned(),
        manual_drain: annotation(MANUAL_DRAIN_ANNOTATION).is_some_and(|value| value == "true"),
        draining_since: annotation(DRAINING_SINCE_ANNOTATION)
            .and_then(|value| DateTime::parse_from_rfc3339(value).ok())
            .map(|time| time.with_timezone(&Utc)),
        heartbeat_missing_since: annotation(HEARTBEAT_MISSING_SINCE_ANNOTATION)
            .and_then(|value| DateTime::parse_from_rfc3339(value).ok())
            .map(|time| time.with_timezone(&Utc)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::ExposureMode;

    fn env_value(pod: &Pod, name: &str) -> Option<String> {
        let container = &pod.spec.as_ref()?.containers[0];
        let var = container
            .env
            .as_ref()?
            .iter()
            .find(|var| var.name == name)?;
        var.value.clone().or_else(|| {
            var.value_from
                .as_ref()
                .and_then(|from| from.field_ref.as_ref())
                .map(|field| format!("field:{}", field.field_path))
        })
    }

    #[test]
    fn a_host_network_pod_advertises_the_node_address_and_drains_before_it_is_killed() {
        let mut pool = SfuPool::test().with_drain_deadline(600);
        pool.spec.exposure.tcp_port = Some(7881);
        pool.spec
            .template
            .labels
            .insert("team".to_owned(), "media".to_owned());
        pool.spec
            .template
            .labels
            .insert(POOL_LABEL.to_owned(), "hijack".to_owned());
        let pod = sfu_pod(&pool, "main-abcde").unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.host_network, Some(true));
        assert_eq!(spec.dns_policy.as_deref(), Some("ClusterFirstWithHostNet"));
        assert_eq!(spec.termination_grace_period_seconds, Some(630));
        let labels = pod.metadata.labels.as_ref().unwrap();
        assert_eq!(labels[POOL_LABEL], "main", "the operator's labels win");
        assert_eq!(labels["team"], "media");
        let owner = &pod.metadata.owner_references.as_ref().unwrap()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.controller),
            ("SfuPool", Some(true))
        );
        assert_eq!(
            env_value(&pod, "CONVENE_SFU_NODE_NAME").as_deref(),
            Some("field:metadata.name")
        );
        assert_eq!(
            env_value(&pod, "CONVENE_SFU_ADVERTISED_ADDR").as_deref(),
            Some("$(HOST_IP):7882")
        );
        assert_eq!(
            env_value(&pod, "CONVENE_SFU_CONTROL_URL").as_deref(),
            Some("http://$(POD_IP):8090")
        );
        assert_eq!(
            env_value(&pod, "CONVENE_SFU_TCP_ADDR").as_deref(),
            Some("0.0.0.0:7881")
        );
        assert_eq!(
            env_value(&pod, "CONVENE_SFU_MAX_ROOMS").as_deref(),
            Some("20")
        );
        assert_eq!(
            env_value(&pod, "CONVENE_SFU_DRAIN_TIMEOUT_SECONDS").as_deref(),
            Some("600")
        );
        let container = &spec.containers[0];
        assert_eq!(container.args.as_deref(), Some(&["sfu".to_owned()][..]));
        let ports = container.ports.as_ref().unwrap();
        assert_eq!(ports[1].host_port, Some(7882));
        assert_eq!(ports[1].protocol.as_deref(), Some("UDP"));
        let security = container.security_context.as_ref().unwrap();
        assert_eq!(security.read_only_root_filesystem, Some(true));
        assert_eq!(security.allow_privilege_escalation, Some(false));
        assert_eq!(security.run_as_user, Some(65532));
    }

    #[test]
    fn a_turn_pod_stays_on_the_pod_network() {
        let mut pool = SfuPool::test();
        pool.spec.exposure.mode = ExposureMode::Turn;
        pool.spec.exposure.tcp_port = Some(7881);
        let pod = sfu_pod(&pool, "main-abcde").unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.host_network, None);
        assert_eq!(
            env_value(&pod, "CONVENE_SFU_ADVERTISED_ADDR").as_deref(),
            Some("$(POD_IP):7882")
        );
        assert_eq!(env_value(&pod, "CONVENE_SFU_TCP_ADDR"), None);
        assert!(
            spec.containers[0]
                .ports
                .as_ref()
                .unwrap()
                .iter()
                .all(|port| port.host_port.is_none())
        );
    }

    #[test]
    fn an_sfu_pod_gets_no_api_token_nor_service_links_unless_its_pool_names_an_account() {
        let pool = SfuPool::test();
        let pod = sfu_pod(&pool, "main-abcde").unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.automount_service_account_token, Some(false));
        assert_eq!(spec.enable_service_links, Some(false));
        assert_eq!(spec.service_account_name, None);

        // A named account is there for a reason (e.g. workload identity): its token is
        // mounted as Kubernetes would by default.
        let mut pool = SfuPool::test();
        pool.spec.template.service_account_name = Some("media".to_owned());
        let pod = sfu_pod(&pool, "main-abcde").unwrap();
        let spec = pod.spec.as_ref().unwrap();
        assert_eq!(spec.service_account_name.as_deref(), Some("media"));
        assert_eq!(spec.automount_service_account_token, None);
        assert_eq!(spec.enable_service_links, Some(false));
    }

    #[test]
    fn random_pod_names_belong_to_the_pool() {
        for _ in 0..100 {
            let name = random_pod_name("main");
            assert!(crate::decisions::is_pool_pod_name("main", &name), "{name}");
        }
    }

    #[test]
    fn an_observed_pod_reads_its_readiness_and_drain_annotations() {
        let now = chrono::Utc::now();
        let since = now - chrono::TimeDelta::seconds(90);
        let pod = crate::fixtures::TestPod::ready("main-abcde", now)
            .draining_since(since)
            .manual_drain()
            .pod();
        let observed = observe_pod(&pod);
        assert!(observed.ready && observed.manual_drain && !observed.terminating);
        assert_eq!(observed.phase, PodPhase::Running);
        assert_eq!(
            observed.draining_since.map(|time| time.timestamp()),
            Some(since.timestamp())
        );
        assert_eq!(
            observed.ready_since.map(|time| time.timestamp()),
            Some((now - chrono::TimeDelta::seconds(60)).timestamp())
        );
    }
}
