"""The CRDs in deploy/300-crds (api/crds.py, api/crd_rules.py, c8s/gen_crds.py).

Covers: the committed files equal what the Structs generate (the agreement test: same fields,
types, defaults, patterns, limits); structural-schema rules (every node typed, no $ref or
combinators, a description on every property, bounded lists and maps for CEL cost, defaults valid
against their own schema); Optional fields exactly the nullable ones; the spec's required
names, short names, printer columns, status subresource; condition status as the strings
True/False/Unknown; no default on step timeouts; the CEL rules (unique step names, terminal phase,
spec immutable except cancelRequested); and that the CRD schema and the Python validator agree on
valid and invalid manifests.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import msgspec
import msgspec.inspect as mi
import pytest
import yaml

from api.crds import RESOURCES
from api.pipelinerun import PipelineRunSpec
from api.validation import validate_manifest
from c8s.gen_crds import OUT_DIR, files, main

ROOT = Path(__file__).resolve().parents[2]
Schema = dict[str, object]


def load(kind: str) -> Schema:
    data: Schema = yaml.safe_load((OUT_DIR / f"{kind.lower()}s.yaml").read_text())
    return data


def schema_of(kind: str) -> Schema:
    version = load(kind)["spec"]["versions"][0]  # type: ignore[index]
    return version["schema"]["openAPIV3Schema"]  # type: ignore[no-any-return]


def nodes(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with its path (`.name` properties, `[]` items, `{}` map values)."""
    yield path, schema
    for name, sub in schema.get("properties", {}).items():  # type: ignore[attr-defined]
        yield from nodes(sub, f"{path}.{name}")
    if isinstance(schema.get("items"), dict):
        yield from nodes(schema["items"], f"{path}[]")  # type: ignore[arg-type]
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}{{}}")  # type: ignore[arg-type]


def test_committed_crds_are_generated_from_the_structs() -> None:
    """deploy/300-crds equals the generator's output: regenerate with `python -m c8s.gen_crds`."""
    for path, text in files().items():
        assert path.read_text() == text, f"{path} is stale: run python -m c8s.gen_crds"


def test_gen_crds_check_mode(tmp_path: Path) -> None:
    """--check exits 1 for a missing or edited file and 0 once written."""
    assert main(["--check", "--out", str(tmp_path)]) == 1
    assert main(["--out", str(tmp_path)]) == 0
    assert main(["--check", "--out", str(tmp_path)]) == 0
    (tmp_path / "pipelineruns.yaml").write_text("edited\n")
    assert main(["--check", "--out", str(tmp_path)]) == 1


@pytest.mark.parametrize("kind", list(RESOURCES))
def test_schema_is_structural(kind: str) -> None:
    """Every node has a type and no $ref/anyOf/oneOf/allOf/not; no unknown fields are preserved."""
    for path, node in nodes(schema_of(kind)):
        assert "type" in node, path
        assert not {"$ref", "anyOf", "oneOf", "allOf", "not"} & node.keys(), path
        assert "x-kubernetes-preserve-unknown-fields" not in node, path


@pytest.mark.parametrize("kind", list(RESOURCES))
def test_every_property_has_a_description(kind: str) -> None:
    """kubectl explain has something to say about every field (metadata's schema is the apiserver's)."""
    for path, node in nodes(schema_of(kind)):
        if not path.endswith(("[]", "{}")) and path != ".metadata":
            assert node.get("description"), path


@pytest.mark.parametrize("kind", list(RESOURCES))
def test_lists_and_maps_are_bounded(kind: str) -> None:
    """Every list has maxItems and every map maxProperties, so CEL cost estimates stay bounded."""
    for path, node in nodes(schema_of(kind)):
        if node["type"] == "array":
            assert "maxItems" in node, path
        if "additionalProperties" in node:
            assert "maxProperties" in node, path


@pytest.mark.parametrize("kind", list(RESOURCES))
def test_defaults_are_valid_against_their_schema(kind: str) -> None:
    """The apiserver rejects a CRD whose defaults do not validate; so do we."""
    for _, node in nodes(schema_of(kind)):
        if "default" in node:
            jsonschema.validate(node["default"], json_schema(node))


def optional_fields(cls: type[msgspec.Struct], path: str = "") -> Iterator[str]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    for f in info.fields:
        t = f.type.type if isinstance(f.type, mi.Metadata) else f.type
        if isinstance(t, mi.UnionType):
            yield f"{path}.{f.encode_name}"
            t = next(x for x in t.types if not isinstance(x, mi.NoneType))
        if isinstance(t, mi.ListType) and isinstance(t.item_type, mi.StructType):
            yield from optional_fields(t.item_type.cls, f"{path}.{f.encode_name}[]")
        elif isinstance(t, mi.StructType) and f.name != "metadata":
            yield from optional_fields(t.cls, f"{path}.{f.encode_name}")


@pytest.mark.parametrize("kind", list(RESOURCES))
def test_nullable_exactly_where_optional(kind: str) -> None:
    """A field is nullable in the CRD exactly when it is Optional in the Struct."""
    nullable = {path for path, node in nodes(schema_of(kind)) if node.get("nullable")}
    assert nullable == set(optional_fields(RESOURCES[kind][0]))


def test_names_short_names_and_subresources() -> None:
    """Group c8s.dev, v1alpha1, namespaced, short names pc/pr/rc, status subresource."""
    for kind, short in [("PipelineConfig", "pc"), ("PipelineRun", "pr"), ("RepositoryConnection", "rc")]:
        crd = load(kind)
        spec = crd["spec"]
        assert crd["metadata"] == {"name": f"{kind.lower()}s.c8s.dev"}
        assert (spec["group"], spec["scope"], spec["names"]["shortNames"]) == (
            "c8s.dev",
            "Namespaced",
            [short],
        )  # type: ignore[index]
        version = spec["versions"][0]  # type: ignore[index]
        assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
        assert version["subresources"] == {"status": {}}


def test_pipelinerun_printer_columns() -> None:
    """kubectl get pipelineruns shows Status, Config, Commit, Event and Age as in the spec (plus the
    pull request's number and target with -o wide)."""
    columns = load("PipelineRun")["spec"]["versions"][0]["additionalPrinterColumns"]  # type: ignore[index]
    assert [(c["name"], c["jsonPath"]) for c in columns] == [
        ("Status", ".status.phase"),
        ("Config", ".spec.pipelineConfigRef"),
        ("Commit", ".spec.commit"),
        ("Event", ".spec.trigger.event"),
        ("PR", ".spec.trigger.number"),
        ("Target", ".spec.trigger.targetBranch"),
        ("Age", ".metadata.creationTimestamp"),
    ]


def test_condition_status_is_strings() -> None:
    """The spec's unquoted True/False are YAML booleans; the CRD holds the strings."""
    node = dict(nodes(schema_of("PipelineRun")))[".status.conditions[].status"]
    assert node["enum"] == ["False", "True", "Unknown"]
    assert all(isinstance(v, str) for v in node["enum"])  # type: ignore[attr-defined]


def test_defaults_and_no_step_timeout_default() -> None:
    """Spec defaults are set, but a step timeout has none so explicit timeouts stay recognisable."""
    pc = dict(nodes(schema_of("PipelineConfig")))
    assert pc[".spec.timeout"]["default"] == "1h"
    assert pc[".spec.branches"]["default"] == ["**"]
    assert pc[".spec.steps[].resources.cpu"]["default"] == "500m"
    assert pc[".spec.steps[].resources.memory"]["default"] == "1Gi"
    assert pc[".spec.steps[].conditional.onSuccess"]["default"] is True
    assert "default" not in pc[".spec.steps[].timeout"]
    pr = dict(nodes(schema_of("PipelineRun")))
    assert pr[".spec.triggeredBy"]["default"] == "system"
    assert pr[".spec.cancelRequested"]["default"] is False


def rules_at(kind: str, path: str) -> list[str]:
    node = dict(nodes(schema_of(kind)))[path]
    return [r["rule"] for r in node.get("x-kubernetes-validations", [])]  # type: ignore[attr-defined]


def test_cel_unique_step_names() -> None:
    """Step names are unique by a CEL rule on the steps list."""
    assert rules_at("PipelineConfig", ".spec.steps") == ["self.all(s, self.exists_one(t, t.name == s.name))"]


def test_cel_terminal_phase_is_a_transition_rule_on_status() -> None:
    """A terminal phase never changes: a rule on status comparing phase with oldSelf."""
    rules = rules_at("PipelineRun", ".status")
    assert any("oldSelf.phase in ['Cancelled', 'Failed', 'Succeeded']" in r for r in rules)


def test_cel_spec_immutable_except_cancel_requested() -> None:
    """Every PipelineRun spec field but cancelRequested has an immutability rule; cancel only goes true."""
    info = mi.type_info(PipelineRunSpec)
    assert isinstance(info, mi.StructType)
    rules = rules_at("PipelineRun", ".spec")
    for f in info.fields:
        immutable = f"self.{f.encode_name} == oldSelf.{f.encode_name}"
        assert any(immutable in r for r in rules) is (f.encode_name != "cancelRequested"), f.encode_name
    assert any(
        "oldSelf.cancelRequested) || (has(self.cancelRequested) && self.cancelRequested)" in r for r in rules
    )


def json_schema(node: object) -> object:
    """A CRD schema as JSON Schema: nullable becomes a null type, x-kubernetes-* are dropped."""
    if isinstance(node, list):
        return [json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: json_schema(v) for k, v in node.items() if not k.startswith("x-kubernetes") and k != "nullable"}
    if node.get("nullable"):
        out["type"] = [node["type"], "null"]
    return out


def crd_accepts(manifest: dict[str, object]) -> bool:
    validator = jsonschema.Draft4Validator(json_schema(schema_of(str(manifest["kind"]))))
    return validator.is_valid(manifest)


def examples() -> list[dict[str, object]]:
    docs = [d for p in sorted((ROOT / "examples").glob("*.yaml")) for d in yaml.safe_load_all(p.read_text())]
    return [d for d in docs if d["kind"] in RESOURCES]


@pytest.mark.parametrize("manifest", examples(), ids=lambda m: f"{m['kind']}/{m['metadata']['name']}")
def test_crd_schema_accepts_the_examples(manifest: dict[str, object]) -> None:
    """What c8s validate accepts, the CRD schema accepts."""
    assert validate_manifest(copy.deepcopy(manifest)).errors == []
    assert crd_accepts(manifest)


BREAKAGES = [
    ("PipelineConfig", ["spec", "steps", 0, "name"], "Test_1"),
    ("PipelineConfig", ["spec", "steps", 0, "resources", "cpu"], "0.5"),
    ("PipelineConfig", ["spec", "steps", 0, "resources", "memory"], "2G"),
    ("PipelineConfig", ["spec", "timeout"], "1d"),
    ("PipelineConfig", ["spec", "repository"], "git@github.com:org/x"),
    ("PipelineConfig", ["spec", "steps"], []),
    ("PipelineConfig", ["spec", "steps", 0, "commands"], "go test"),
    ("PipelineConfig", ["spec", "steps", 0, "conditional"], {"onSuccess": "no"}),
    ("PipelineRun", ["spec", "commit"], "ABC1234"),
    ("PipelineRun", ["spec", "commit"], "abc12"),
    ("PipelineRun", ["status", "phase"], "Done"),
    ("PipelineRun", ["status", "conditions", 0, "status"], True),
    ("RepositoryConnection", ["spec", "provider"], "gitea"),
]


@pytest.mark.parametrize(("kind", "path", "value"), BREAKAGES, ids=lambda x: str(x))
def test_crd_schema_and_validator_reject_the_same_breakage(
    kind: str, path: list[object], value: object
) -> None:
    """A shape error the validator reports is one the CRD schema rejects too."""
    manifest = copy.deepcopy(next(m for m in examples() if m["kind"] == kind))
    target: object = manifest
    for key in path[:-1]:
        target = target.setdefault(key, {}) if isinstance(target, dict) else target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    assert validate_manifest(copy.deepcopy(manifest)).errors != []
    assert not crd_accepts(manifest)
