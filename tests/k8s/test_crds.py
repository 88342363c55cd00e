"""The c8s CRDs (deploy/300-crds) on the real apiserver: they become Established, every object in the
spec's examples (examples/) is accepted, spec and status included, the schema and CEL rules refuse
invalid objects with their own messages, and `kubectl get pipelineruns` shows the printer columns."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plane as plane_mod
import pytest
import yaml
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("crds")]

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "deploy" / "300-crds"
EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))
GROUP, VERSION = "c8s.dev", "v1alpha1"
PLURALS = {"PipelineConfig": "pipelineconfigs", "PipelineRun": "pipelineruns",
           "RepositoryConnection": "repositoryconnections"}
MERGE_PATCH = "application/merge-patch+json"
Obj = dict[str, Any]


@pytest.fixture(scope="session")
def crds(control_plane: plane_mod.Plane) -> Iterator[list[str]]:
    """Applies deploy/300-crds once per session (kubectl apply, as an operator would)."""
    env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(control_plane.kubeconfig),
           "HOME": str(control_plane.directory)}
    result = subprocess.run([str(control_plane.kubectl), "apply", "-f", str(CRD_DIR)], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"kubectl apply -f {CRD_DIR} failed: {result.stderr}"
    yield [yaml.safe_load(p.read_text())["metadata"]["name"] for p in sorted(CRD_DIR.glob("*.yaml"))]


def example_docs() -> list[Obj]:
    return [d for p in EXAMPLES for d in yaml.safe_load_all(p.read_text()) if d]


async def create(api: client.ApiClient, namespace: str, doc: Obj) -> Obj:
    """Create ``doc`` in ``namespace`` (its own namespace ignored); return what the apiserver stored."""
    body = copy.deepcopy(doc)
    body["metadata"]["namespace"] = namespace
    if body["kind"] == "Secret":
        return (await client.CoreV1Api(api).create_namespaced_secret(namespace, body)).to_dict()
    plural = PLURALS[body["kind"]]
    return await client.CustomObjectsApi(api).create_namespaced_custom_object(GROUP, VERSION, namespace,
                                                                              plural, body)


async def patch_status(api: client.ApiClient, namespace: str, kind: str, name: str, status: Obj) -> Obj:
    return await client.CustomObjectsApi(api).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURALS[kind], name, {"status": status}, _content_type=MERGE_PATCH)


async def refused(call: Any) -> str:
    """Await ``call``; it must be refused as invalid (422). Returns the apiserver's message."""
    with pytest.raises(ApiException) as info:
        await call
    assert info.value.status == 422, info.value.body
    return str(json.loads(info.value.body)["message"])


def run(name: str = "run-1", **spec: Any) -> Obj:
    return {"apiVersion": f"{GROUP}/{VERSION}", "kind": "PipelineRun", "metadata": {"name": name},
            "spec": {"pipelineConfigRef": "my-app-ci", "commit": "abc123def456", **spec}}


def first_example(kind: str) -> Obj:
    return next(d for d in example_docs() if d["kind"] == kind)


async def test_crds_are_established(k8s_api: client.ApiClient, crds: list[str]) -> None:
    """Each of the three CRDs is Established with its names accepted."""
    assert sorted(crds) == sorted(f"{p}.{GROUP}" for p in PLURALS.values())
    ext = client.ApiextensionsV1Api(k8s_api)

    async def established(name: str) -> bool:
        crd = await ext.read_custom_resource_definition(name)
        conditions = {c.type: c.status for c in crd.status.conditions or []}
        return conditions.get("Established") == "True" and conditions.get("NamesAccepted") == "True"

    for name in crds:
        await eventually(lambda n=name: established(n), what=f"CRD {name} Established")


async def test_examples_are_accepted(k8s_api: client.ApiClient, namespace: str) -> None:
    """Every object in examples/ is created as is, and the status it shows is accepted as status."""
    docs = example_docs()
    assert {d["kind"] for d in docs} >= set(PLURALS), "the examples should show every c8s kind"
    for doc in docs:
        stored = await create(k8s_api, namespace, doc)
        assert stored["metadata"]["name"] == doc["metadata"]["name"]
        if "status" in doc and doc["kind"] in PLURALS:
            name = doc["metadata"]["name"]
            written = await patch_status(k8s_api, namespace, doc["kind"], name, doc["status"])
            assert {k: written["status"].get(k) for k in doc["status"]} == doc["status"]


async def test_bad_commit_sha_is_refused(k8s_api: client.ApiClient, namespace: str) -> None:
    """A PipelineRun whose commit is not 7-40 lower-case hex characters is refused by the schema."""
    message = await refused(create(k8s_api, namespace, run(commit="not-a-sha!")))
    assert "spec.commit" in message and "should match '^[a-f0-9]{7,40}$'" in message


async def test_duplicate_step_names_are_refused(k8s_api: client.ApiClient, namespace: str) -> None:
    """A PipelineConfig with two steps of the same name is refused with the CEL rule's message."""
    config = first_example("PipelineConfig")
    config["spec"]["steps"].append(copy.deepcopy(config["spec"]["steps"][0]))
    message = await refused(create(k8s_api, namespace, config))
    assert "step names must be unique within a pipeline" in message


async def test_unknown_provider_is_refused(k8s_api: client.ApiClient, namespace: str) -> None:
    """A RepositoryConnection with provider svn is refused, naming the supported providers."""
    connection = first_example("RepositoryConnection")
    connection["spec"]["provider"] = "svn"
    message = await refused(create(k8s_api, namespace, connection))
    assert 'spec.provider: Unsupported value: "svn"' in message and '"github"' in message


async def test_terminal_phase_never_changes(k8s_api: client.ApiClient, namespace: str) -> None:
    """A run whose status says Succeeded cannot be set back to Running through the status subresource."""
    await create(k8s_api, namespace, run())
    done = await patch_status(k8s_api, namespace, "PipelineRun", "run-1", {"phase": "Succeeded"})
    assert done["status"]["phase"] == "Succeeded"
    message = await refused(patch_status(k8s_api, namespace, "PipelineRun", "run-1", {"phase": "Running"}))
    assert "a finished run (Succeeded, Failed or Cancelled) never changes phase" in message


async def test_printer_columns(k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl) -> None:
    """`kubectl get pipelineruns` shows NAME, STATUS, CONFIG, COMMIT, EVENT and AGE with the run's values."""
    await create(k8s_api, namespace, run("run-cols"))
    await patch_status(k8s_api, namespace, "PipelineRun", "run-cols", {"phase": "Running"})
    header, *rows = (await kubectl("get", "pipelineruns", "-n", namespace)).stdout.splitlines()
    assert header.split() == ["NAME", "STATUS", "CONFIG", "COMMIT", "EVENT", "AGE"]
    [row] = rows
    assert row.split()[:4] == ["run-cols", "Running", "my-app-ci", "abc123def456"]


MERGE_PATCH = "application/merge-patch+json"


async def test_a_pull_request_run_shows_what_it_is(
    k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    """`kubectl get pr` shows the trigger's event, `-o wide` its PR number and target, and the
    trigger cannot be changed afterwards (issue 13.7)."""
    trigger = {"event": "pull_request", "connection": "app", "number": 7, "targetBranch": "main"}
    trigger["fork"] = True
    await create(k8s_api, namespace, run("run-pr", trigger=trigger))
    await patch_status(k8s_api, namespace, "PipelineRun", "run-pr", {"phase": "Running"})
    header, row = (await kubectl("get", "pr", "-n", namespace, "-o", "wide")).stdout.splitlines()
    cells = dict(zip(header.split(), row.split(), strict=False))
    assert (cells["EVENT"], cells["PR"], cells["TARGET"]) == ("pull_request", "7", "main")
    api = client.CustomObjectsApi(k8s_api)
    patch = {"spec": {"trigger": {**trigger, "fork": False}}}
    message = await refused(
        api.patch_namespaced_custom_object(
            GROUP, VERSION, namespace, "pipelineruns", "run-pr", patch, _content_type=MERGE_PATCH
        )
    )
    assert "trigger is immutable" in message
