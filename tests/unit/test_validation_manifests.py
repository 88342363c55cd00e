"""Validation of manifests by kind (api/validation.py): dispatch, metadata, PipelineRun,
RepositoryConnection and v1 Secret.

Covers: non-mapping documents; missing or unknown kind (with did-you-mean); apiVersion not serving
the kind; metadata.name required (generateName accepted), name and namespace formats, unknown
metadata keys tolerated; PipelineRun commit SHA (7-40 lower-case hex, unquoted numbers), phase and
condition-status enums (the spec's unquoted booleans), timestamps, cancelRequested, matrixIndex,
trigger; RepositoryConnection provider and forkPullRequests enums, URL pattern and Secret names;
Secret data base64, keys and stringData values; the spec's examples decode to typed objects.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret
from api.validation import validate_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
Manifest = dict[str, object]


def run(**spec: object) -> Manifest:
    return {
        "apiVersion": "c8s.dev/v1alpha1",
        "kind": "PipelineRun",
        "metadata": {"name": "app-ci-1"},
        "spec": {"pipelineConfigRef": "app-ci", "commit": "abc1234", **spec},
    }


def connection(**spec: object) -> Manifest:
    return {
        "apiVersion": "c8s.dev/v1alpha1",
        "kind": "RepositoryConnection",
        "metadata": {"name": "app-repo"},
        "spec": {"repository": "https://github.com/org/app", "provider": "github", **spec},
    }


def secret(**fields: object) -> Manifest:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds"}, **fields}


def errors(manifest: object) -> list[str]:
    return [str(e) for e in validate_manifest(copy.deepcopy(manifest)).errors]


def test_document_must_be_a_mapping() -> None:
    """A list document is not an object."""
    assert errors(["a"]) == ["expected a Kubernetes object (apiVersion, kind, metadata, spec), got a list"]


def test_kind_required() -> None:
    """Without kind the message lists the kinds c8s validates."""
    assert errors({"apiVersion": "v1"}) == [
        "kind: required field is missing: "
        "add kind (one of PipelineConfig, PipelineRun, RepositoryConnection, Secret)"
    ]


def test_unknown_kind_suggests_closest() -> None:
    """A misspelt kind gets a did-you-mean hint."""
    assert errors({**run(), "kind": "PipelineRn"}) == [
        'kind: unknown kind "PipelineRn": did you mean "PipelineRun"?'
    ]


def test_unrelated_kind_lists_kinds() -> None:
    """A kind c8s does not know lists the ones it does."""
    assert errors({**run(), "kind": "Deployment"}) == [
        'kind: unknown kind "Deployment"; '
        "c8s validates PipelineConfig, PipelineRun, RepositoryConnection, Secret"
    ]


def test_api_version_must_serve_the_kind() -> None:
    """A wrong or missing apiVersion names the right one."""
    assert errors({**run(), "apiVersion": "c8s.dev/v1"}) == [
        'apiVersion: apiVersion "c8s.dev/v1" does not serve kind PipelineRun: '
        "use apiVersion: c8s.dev/v1alpha1"
    ]
    manifest = run()
    del manifest["apiVersion"]
    assert errors(manifest) == ["apiVersion: apiVersion is missing: use apiVersion: c8s.dev/v1alpha1"]


def test_metadata_name_required_unless_generate_name() -> None:
    """An object needs a name, or a generateName."""
    assert errors({**run(), "metadata": {}}) == [
        "metadata.name: required field is missing: add metadata.name (or metadata.generateName)"
    ]
    assert errors({**run(), "metadata": {"generateName": "app-ci-"}}) == []


def test_metadata_name_and_namespace_formats() -> None:
    """Names and namespaces follow Kubernetes naming."""
    assert errors({**run(), "metadata": {"name": "App_1", "namespace": "Team A"}}) == [
        'metadata.name: invalid name "App_1": use lower-case letters, digits, "-" and "." (my-app-ci)',
        'metadata.namespace: invalid namespace "Team A": use lower-case letters, digits and "-"',
    ]


def test_metadata_tolerates_server_fields() -> None:
    """Fields the apiserver adds to metadata are not unknown-field errors."""
    metadata = {"name": "r", "uid": "u", "managedFields": [], "resourceVersion": "1", "finalizers": ["x"]}
    assert errors({**run(), "metadata": metadata}) == []


@pytest.mark.parametrize("commit", ["abc1234", "a" * 40, "0123456789abcdef"])
def test_commit_sha_valid(commit: str) -> None:
    """7 to 40 lower-case hex characters pass."""
    assert errors(run(commit=commit)) == []


@pytest.mark.parametrize("commit", ["abc123", "a" * 41, "ABC1234", "xyz1234"])
def test_commit_sha_invalid(commit: str) -> None:
    """Short, long, upper-case or non-hex SHAs are rejected with the rule stated."""
    expected = "expected 7 to 40 lower-case hex characters, e.g. abc123def456"
    message = f'spec.commit: invalid value "{commit}": {expected}'
    if len(commit) > 40:
        message = "spec.commit: is 41 characters long, over the limit of 40"
    assert errors(run(commit=commit)) == [message]


def test_unquoted_numeric_commit() -> None:
    """A numeric SHA parsed by YAML as an integer must be quoted."""
    assert errors(run(commit=1234567)) == [
        'spec.commit: expected a string, got an integer (1234567); quote it: "1234567"'
    ]


def test_pipeline_config_ref_required() -> None:
    """A run must name its PipelineConfig."""
    manifest = run()
    del manifest["spec"]["pipelineConfigRef"]  # type: ignore[attr-defined]
    assert errors(manifest) == [
        "spec.pipelineConfigRef: required field is missing: add pipelineConfigRef "
        "(Name of the PipelineConfig in the same namespace)"
    ]


def test_cancel_requested_is_boolean() -> None:
    """cancelRequested takes true or false."""
    assert errors(run(cancelRequested=True)) == []
    assert errors(run(cancelRequested="yes")) == [
        "spec.cancelRequested: expected true or false, got a string (yes)"
    ]


def test_triggered_at_needs_a_time() -> None:
    """A date without a time is not a timestamp."""
    import datetime as dt

    assert errors(run(triggeredAt=dt.date(2025, 10, 12))) == [
        "spec.triggeredAt: expected a timestamp, got a date (2025-10-12); write an RFC 3339 time such as "
        '"2025-10-12T10:30:00Z"'
    ]
    assert errors(run(triggeredAt="2025-10-12T10:30:00Z")) == []


def test_matrix_index_values_are_strings() -> None:
    """matrixIndex maps dimension names to string values."""
    assert errors(run(matrixIndex={"go": "1.22"})) == []
    assert errors(run(matrixIndex={"go": 1.22})) == [
        'spec.matrixIndex.go: expected a string, got a number (1.22); quote it: "1.22"'
    ]


def test_status_phase_enum_suggests() -> None:
    """An unknown phase gets a did-you-mean hint and the list of phases."""
    assert errors({**run(), "status": {"phase": "Succeded"}}) == [
        'status.phase: unknown value "Succeded": did you mean "Succeeded"? '
        "(one of: Cancelled, Failed, Pending, Running, Succeeded)"
    ]


def test_condition_status_must_be_a_quoted_string() -> None:
    """The spec's unquoted True is a YAML boolean: the message says to quote it."""
    status = {"conditions": [{"type": "Succeeded", "status": True}]}
    assert errors({**run(), "status": status}) == [
        "status.conditions[0].status: expected one of False, True, Unknown as a string, "
        'got a boolean (true); quote it: "True"'
    ]


def test_provider_enum() -> None:
    """provider is github, gitlab or bitbucket."""
    assert errors(connection(provider="gitlab")) == []
    assert errors(connection(provider="gitub")) == [
        'spec.provider: unknown value "gitub": did you mean "github"? (one of: bitbucket, github, gitlab)'
    ]


def test_fork_pull_requests_policy() -> None:
    """forkPullRequests is WithoutSecrets (the default), WithSecrets or Ignore, and nothing else."""
    ok = validate_manifest(connection(forkPullRequests="Ignore"))
    assert ok.errors == [] and isinstance(ok.obj, RepositoryConnection)
    assert ok.obj.spec.fork_pull_requests == "Ignore"
    default = validate_manifest(connection()).obj
    assert isinstance(default, RepositoryConnection) and default.spec.fork_pull_requests == "WithoutSecrets"
    assert errors(connection(forkPullRequests="withSecrets")) == [
        'spec.forkPullRequests: unknown value "withSecrets": did you mean "WithSecrets"? '
        "(one of: Ignore, WithSecrets, WithoutSecrets)"
    ]


def test_run_trigger_fields() -> None:
    """A run's trigger names a known event and a non-negative number."""
    assert errors(run(trigger={"event": "pull_request", "connection": "app-repo", "number": 7})) == []
    assert errors(run(trigger={"event": "comment", "number": -1})) == [
        'spec.trigger.event: unknown value "comment"; use one of: manual, pull_request, push, tag',
        "spec.trigger.number: must be at least 0, got -1",
    ]


def test_connection_repository_and_secret_names() -> None:
    """The repository must be a URL and secret references must be names."""
    assert errors(connection(repository="github.com/org/app", webhookSecretRef="Hook Secret")) == [
        'spec.repository: invalid value "github.com/org/app": expected a git URL starting with https://, '
        "http://, git:// or ssh://",
        'spec.webhookSecretRef: invalid value "Hook Secret": expected a DNS-1123 name: lower-case letters, '
        "digits, '-' and '.', e.g. my-app-ci",
    ]


def test_secret_string_data_and_base64_data() -> None:
    """stringData strings and base64 data pass."""
    assert errors(secret(stringData={"DB_HOST": "db"}, data={"token": "c2VjcmV0"})) == []


def test_secret_data_must_be_base64() -> None:
    """A data value that is not base64 is rejected with both ways to fix it."""
    assert errors(secret(data={"token": "plain text!"})) == [
        "data.token: not valid base64: encode the value (base64 -w0) or put the plain text under stringData"
    ]


def test_secret_keys_and_values() -> None:
    """Keys follow the Secret key rule and stringData values are strings."""
    assert errors(secret(stringData={"a b": "x", "port": 5432})) == [
        'stringData["a b"]: invalid value "a b": '
        "expected a Secret key: letters, digits, '-', '_' and '.'",
        'stringData.port: expected a string, got an integer (5432); quote it: "5432"',
    ]


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("pipelinerun-my-app-ci-abc123.yaml", PipelineRun),
        ("repositoryconnection-my-app-repo.yaml", RepositoryConnection),
        ("secret-database-credentials.yaml", Secret),
    ],
)
def test_spec_examples_decode_to_typed_objects(name: str, cls: type) -> None:
    """The spec's examples validate and come back as their Structs."""
    result = validate_manifest(yaml.safe_load((EXAMPLES / name).read_text()))
    assert result.errors == []
    assert isinstance(result.obj, cls)
