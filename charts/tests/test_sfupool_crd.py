"""The SfuPool custom resources the chart renders (and the examples) validate against the
CRD's openAPIV3Schema, converted to JSON Schema; a bad SfuPool is rejected. The chart's copy
of the CRD is the generated one."""

import copy
import json

import jsonschema
import pytest
import yaml

from conftest import CASES, CHART, REPO

EXAMPLE_DIRECTORIES = [REPO / "crds" / "examples", CHART / "examples"]


def crd_document():
    return yaml.safe_load((REPO / "crds" / "sfupool.yaml").read_text())


def to_json_schema(node):
    """OpenAPI v3 (Kubernetes structural schema) to JSON Schema draft-07: `nullable` allows
    null, `x-kubernetes-int-or-string` allows both, objects reject unknown fields (as
    kubectl's strict field validation does) unless they preserve unknown fields."""
    if not isinstance(node, dict):
        return node
    schema = {}
    for key, value in node.items():
        if key == "properties":
            schema["properties"] = {name: to_json_schema(child) for name, child in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            schema[key] = to_json_schema(value)
        elif key in ("allOf", "anyOf", "oneOf"):
            schema[key] = [to_json_schema(child) for child in value]
        elif key == "not":
            schema[key] = to_json_schema(value)
        elif key.startswith("x-kubernetes-") or key in ("nullable", "format", "default"):
            continue
        else:
            schema[key] = value
    if node.get("x-kubernetes-int-or-string"):
        schema.pop("type", None)
        schema["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
        if not node.get("x-kubernetes-preserve-unknown-fields"):
            schema["additionalProperties"] = False
    if node.get("nullable"):
        if "type" in schema:
            schema["type"] = [schema["type"], "null"]
        else:
            schema = {"anyOf": [schema, {"type": "null"}]}
    return schema


def served_version(crd):
    versions = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    assert len(versions) == 1
    return versions[0]


@pytest.fixture(scope="module")
def validator():
    crd = crd_document()
    body = to_json_schema(served_version(crd)["schema"]["openAPIV3Schema"])
    body.setdefault("properties", {})
    body["properties"]["apiVersion"] = {"const": "convene.dev/v1alpha1"}
    body["properties"]["kind"] = {"const": "SfuPool"}
    body["properties"]["metadata"] = {
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", "maxLength": 63}},
    }
    body["required"] = sorted(set(body.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    body["additionalProperties"] = False
    jsonschema.Draft7Validator.check_schema(body)
    return jsonschema.Draft7Validator(body)


def problems(validator, pool):
    """Schema errors, plus the CRD's CEL rule (min <= max), evaluated on defaulted values as
    the API server does."""
    found = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(pool)]
    spec = pool.get("spec") or {}
    if isinstance(spec, dict) and spec.get("minReplicas", 1) > spec.get("maxReplicas", 10):
        found.append("spec: minReplicas must not exceed maxReplicas")
    return found


def test_chart_copy_of_the_crd_is_the_generated_one():
    assert (CHART / "crds" / "sfupool.yaml").read_bytes() == (REPO / "crds" / "sfupool.yaml").read_bytes(), (
        "charts/convene/crds/sfupool.yaml differs from crds/sfupool.yaml"
    )


def test_crd_is_the_agreed_api():
    crd = crd_document()
    spec = crd["spec"]
    assert crd["metadata"]["name"] == "sfupools.convene.dev"
    assert spec["group"] == "convene.dev" and spec["scope"] == "Namespaced"
    assert spec["names"]["kind"] == "SfuPool" and spec["names"]["plural"] == "sfupools"
    assert spec["names"]["shortNames"] == ["sfp"]
    version = served_version(crd)
    assert version["served"] and version["storage"]
    assert version["subresources"]["scale"] == {
        "specReplicasPath": ".spec.replicas",
        "statusReplicasPath": ".status.replicas",
        "labelSelectorPath": ".status.selector",
    }
    assert "status" in version["subresources"]
    columns = {c["name"].upper(): c["jsonPath"] for c in version["additionalPrinterColumns"]}
    assert columns == {
        "DESIRED": ".spec.replicas",
        "READY": ".status.readyReplicas",
        "ROOMS": ".status.rooms",
        "PARTICIPANTS": ".status.participants",
        "UTIL": ".status.utilization",
        "AGE": ".metadata.creationTimestamp",
    }


@pytest.mark.parametrize("case", list(CASES))
def test_rendered_sfupool_validates_against_the_crd(rendered_cases, validator, case):
    pools = [o for o in rendered_cases[case] if o["kind"] == "SfuPool"]
    assert len(pools) == 1
    assert problems(validator, pools[0]) == []


def example_files():
    return sorted(path for directory in EXAMPLE_DIRECTORIES if directory.exists() for path in directory.glob("*.yaml"))


def test_there_are_examples():
    assert example_files(), "crds/examples/ has no SfuPool example"


@pytest.mark.parametrize("path", example_files(), ids=lambda p: str(p.relative_to(REPO)))
def test_examples_validate_against_the_crd(validator, path):
    for document in yaml.safe_load_all(path.read_text()):
        if document and document.get("kind") == "SfuPool":
            assert problems(validator, document) == [], path


def mutated(pool, change):
    pool = copy.deepcopy(pool)
    change(pool["spec"])
    return pool


BAD_CHANGES = {
    "unknown placement": lambda s: s.update(placement="Random"),
    "unknown exposure mode": lambda s: s["exposure"].update(mode="NodePort"),
    "negative replicas": lambda s: s.update(replicas=-1),
    "capacity missing": lambda s: s.pop("capacity"),
    "zero room capacity": lambda s: s["capacity"].update(rooms=0),
    "typo'd field": lambda s: s.update(replica=3),
    "buffer percent over 90": lambda s: s.update(buffer={"percent": 95}),
    "template without image": lambda s: s["template"].pop("image"),
    "min above max": lambda s: s.update(minReplicas=5, maxReplicas=3),
    "string port": lambda s: s["exposure"].update(udpPort="7882"),
}


@pytest.mark.parametrize("name", list(BAD_CHANGES))
def test_a_bad_sfupool_is_rejected(rendered_cases, validator, name):
    pool = next(o for o in rendered_cases["defaults"] if o["kind"] == "SfuPool")
    assert problems(validator, pool) == []
    assert problems(validator, mutated(pool, BAD_CHANGES[name])) != [], name


def test_chart_values_mirror_the_crd_enums_and_bounds():
    values_schema = json.loads((CHART / "values.schema.json").read_text())["properties"]["sfuPool"]["properties"]
    crd_spec = served_version(crd_document())["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert values_schema["placement"]["enum"] == crd_spec["placement"]["enum"]
    assert values_schema["exposure"]["properties"]["mode"]["enum"] == crd_spec["exposure"]["properties"]["mode"]["enum"]
    assert values_schema["buffer"]["properties"]["percent"]["maximum"] == crd_spec["buffer"]["properties"]["percent"]["maximum"]
    crd_template = set(crd_spec["template"]["properties"])
    # Every pod-template field the CRD has is a chart value (envFrom is the chart's Secret
    # plus extraEnvFrom).
    chart_template = set(values_schema["template"]["properties"]) - {"extraEnvFrom"} | {"envFrom"}
    assert crd_template <= chart_template, crd_template - chart_template
