//! The committed CRD YAML is exactly what the code generates, and the example pool is a
//! valid `SfuPool`.

use std::path::Path;

use convene_operator::crd::{ExposureMode, Placement, SfuPool, crd_yaml};

fn repository_file(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

#[test]
fn the_committed_crds_are_what_the_code_generates() {
    let generated = crd_yaml().unwrap();
    for committed in ["crds/sfupool.yaml", "charts/convene/crds/sfupool.yaml"] {
        assert!(
            repository_file(committed) == generated,
            "{committed} differs from the SfuPool types; regenerate it with\n  \
             cargo run -p convene-operator -- crd > crds/sfupool.yaml && \
             cp crds/sfupool.yaml charts/convene/crds/sfupool.yaml"
        );
    }
}

#[test]
fn the_generated_crd_has_the_agreed_names_subresources_and_columns() {
    let crd: serde_json::Value = serde_saphyr::from_str(&crd_yaml().unwrap()).unwrap();
    let spec = &crd["spec"];
    assert_eq!(spec["group"], "convene.dev");
    assert_eq!(spec["names"]["kind"], "SfuPool");
    assert_eq!(spec["names"]["plural"], "sfupools");
    assert_eq!(spec["names"]["shortNames"][0], "sfp");
    assert_eq!(spec["scope"], "Namespaced");
    let version = &spec["versions"][0];
    assert_eq!(version["name"], "v1alpha1");
    let scale = &version["subresources"]["scale"];
    assert_eq!(scale["specReplicasPath"], ".spec.replicas");
    assert_eq!(scale["statusReplicasPath"], ".status.replicas");
    assert_eq!(scale["labelSelectorPath"], ".status.selector");
    let columns: Vec<&str> = version["additionalPrinterColumns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|column| column["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        columns,
        ["Desired", "Ready", "Rooms", "Participants", "Util", "Age"]
    );
    let properties = &version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"];
    assert_eq!(properties["drainDeadlineSeconds"]["default"], 3600);
    assert_eq!(properties["minReplicas"]["default"], 1);
    assert_eq!(properties["maxReplicas"]["default"], 10);
    assert_eq!(
        properties["buffer"]["properties"]["percent"]["maximum"],
        90.0
    );
}

#[test]
fn the_example_pool_is_a_valid_sfupool() {
    let pool: SfuPool = serde_saphyr::from_str(&repository_file("crds/examples/sfupool.yaml"))
        .expect("crds/examples/sfupool.yaml does not deserialise into SfuPool");
    assert_eq!(pool.metadata.name.as_deref(), Some("main"));
    let spec = &pool.spec;
    assert_eq!(
        (spec.replicas, spec.min_replicas, spec.max_replicas),
        (2, 2, 10)
    );
    assert_eq!(
        spec.buffer.as_ref().and_then(|buffer| buffer.percent),
        Some(20)
    );
    assert_eq!(spec.capacity.rooms, 20);
    assert_eq!(spec.placement, Placement::Distributed);
    assert_eq!(spec.exposure.mode, ExposureMode::HostNetwork);
    assert_eq!(spec.exposure.tcp_port, Some(7881));
    assert_eq!(spec.template.env_from.len(), 1);
    assert_eq!(spec.template.tolerations.len(), 1);
}

#[test]
fn a_minimal_pool_gets_the_documented_defaults() {
    let pool: SfuPool = serde_saphyr::from_str(
        "apiVersion: convene.dev/v1alpha1\nkind: SfuPool\nmetadata: {name: small}\nspec:\n  capacity: {rooms: 5, participants: 50}\n  template: {image: convene:dev}\n",
    )
    .unwrap();
    let spec = &pool.spec;
    assert_eq!(
        (spec.replicas, spec.min_replicas, spec.max_replicas),
        (1, 1, 10)
    );
    assert_eq!(spec.buffer, None);
    assert_eq!(spec.placement, Placement::Distributed);
    assert_eq!(spec.exposure.mode, ExposureMode::HostNetwork);
    assert_eq!(spec.exposure.udp_port, 7882);
    assert_eq!(spec.drain_deadline_seconds, 3600);
}
