"""values.schema.json rejects bad values with a message that names the value, both through
Helm (which refuses to render) and as plain JSON Schema (draft-07)."""

import json

import helm_python
import jsonschema
import pytest
import yaml

from conftest import CHART, merge, render

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
DEFAULTS = yaml.safe_load((CHART / "values.yaml").read_text())

BAD_VALUES = [
    # (values, what Helm's message must contain)
    ({"gateway": {"replicas": -1}}, "/gateway/replicas"),
    ({"sfuPool": {"replicas": -2}}, "/sfuPool/replicas"),
    ({"sfuPool": {"exposure": {"mode": "NodePort"}}}, "/sfuPool/exposure/mode"),
    ({"turn": {"exposure": "Ingress"}}, "/turn/exposure"),
    ({"gatway": {"replicas": 2}}, "additional properties 'gatway' not allowed"),
    ({"sfuPool": {"capacity": {"room": 10}}}, "additional properties 'room' not allowed"),
    ({"sfuPool": {"buffer": {"percent": 95}}}, "/sfuPool/buffer/percent"),
    ({"sfuPool": {"placement": "packed"}}, "/sfuPool/placement"),
    ({"secrets": {"sfuControlSecret": "short"}}, "/secrets/sfuControlSecret"),
    ({"secrets": {"jwtKeys": "k1:dG9vIHNob3J0"}}, "/secrets/jwtKeys"),
    ({"gateway": {"logFormat": "xml"}}, "/gateway/logFormat"),
    ({"publicUrl": "https://meet.example.com/app"}, "/publicUrl"),
]


def test_the_schema_is_valid_draft_07_and_accepts_the_defaults():
    assert SCHEMA["$schema"] == "http://json-schema.org/draft-07/schema#"
    jsonschema.Draft7Validator.check_schema(SCHEMA)
    assert list(jsonschema.Draft7Validator(SCHEMA).iter_errors(DEFAULTS)) == []


def test_every_value_is_described_by_the_schema():
    """Walks values.yaml: every key has a schema (so `additionalProperties: false` does not
    reject a documented value, and no value escapes checking)."""

    def walk(values, schema, path):
        if not isinstance(values, dict) or schema.get("type") != "object" or "properties" not in schema:
            return
        for key, value in values.items():
            assert key in schema["properties"], f"{path}{key} has no schema"
            walk(value, schema["properties"][key], f"{path}{key}.")

    walk(DEFAULTS, SCHEMA, "")


@pytest.mark.parametrize("values,message", BAD_VALUES, ids=[m for _, m in BAD_VALUES])
def test_helm_rejects_bad_values_with_a_clear_message(values, message):
    with pytest.raises(helm_python.HelmValuesError) as error:
        render(values)
    assert message in str(error.value)
    # The same values fail plain JSON Schema validation (what editors and CI linters use).
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(merge(DEFAULTS, values)))
    assert errors, values


def test_turn_exposure_without_allowed_peers_is_rejected_by_the_schema_too():
    values = merge(DEFAULTS, {"sfuPool": {"exposure": {"mode": "Turn"}}})
    errors = list(jsonschema.Draft7Validator(SCHEMA).iter_errors(values))
    assert any(list(error.absolute_path) == ["turn", "allowedPeerIPs"] for error in errors), errors


def test_lint_reports_bad_values():
    report = helm_python.lint(str(CHART), {"sfuPool": {"exposure": {"mode": "Nodes"}}}, strict=True)
    text = json.dumps(report)
    assert "sfuPool/exposure/mode" in text
