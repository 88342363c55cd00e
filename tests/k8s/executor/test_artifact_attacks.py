"""Issue 11's storage attack on the real control plane (the node agent runs the pods): what a step
pod holds cannot read or write another run's objects.

Covers: the Job of a step with artifacts holds no AWS_* variable, no envFrom and no Secret reference
of c8s's (the only storage access is the artifacts container's upload token); the step's own
environment has neither storage keys nor the token; the sidecar's upload still works end to end;
and with the pod's strongest credential — the token, taken from the Job — writing another run's or
another namespace's artifact, and reading or listing objects, are refused and the victim's object
is unchanged.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client

from adapters.artifact_uploads import TokenUploadStore, UploadRefusedByEndpoint
from adapters.jetstream.bus import NatsBus
from adapters.kube.connection import KubeConnection
from adapters.kube.jobs import KubeExecutor
from adapters.object_store import FsspecObjectStore
from events.run import ArtifactUploaded, StepFinished
from tests.k8s.executor.steps import job_watcher, plan_for, step_events
from tests.k8s.waiting import eventually

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("c8s_crds")]
VICTIMS = ("victim/release-1/u-9/build/artifacts/report.txt", "{ns}/other-run/u-8/build/artifacts/report.txt")


async def test_a_step_pod_cannot_touch_another_runs_objects(
    k8s_api: client.ApiClient, namespace: str, repo: tuple[str, str], executor: KubeExecutor,
    kube: KubeConnection, bus: NatsBus, objects_url: str, upload_url: str,
) -> None:
    """No storage key in the Job or the step; the token writes its own prefix only, never reads."""
    store = FsspecObjectStore(objects_url)
    victims = [v.format(ns=namespace) for v in VICTIMS]
    for key in victims:
        await store.put(key, b"the victim's report\n")
    plan = await plan_for(k8s_api, namespace, repo, "mkdir -p out", "env > out/env.txt", artifacts=["out/**"])
    async with job_watcher(bus, kube):
        await executor.start(plan)
        events = await eventually(lambda: _finished(bus, plan.ref), what="StepFinished", within=60)
    job = await client.BatchV1Api(k8s_api).read_namespaced_job(plan.ref.job_name, namespace)
    spec = k8s_api.sanitize_for_serialization(job.spec)
    text = json.dumps(spec)
    assert "AWS_" not in text and "envFrom" not in text and "secretRef" not in text
    [uploaded] = [e for e in events if isinstance(e, ArtifactUploaded)]
    step_env = (await store.read(uploaded.url)).decode()
    assert uploaded.path == "out/env.txt" and "C8S_RUN=" in step_env
    assert "AWS_" not in step_env and "C8S_UPLOAD_TOKEN" not in step_env

    token = _token_of(spec)
    thief = TokenUploadStore(upload_url, token, objects_url)
    for key in victims:
        with pytest.raises(UploadRefusedByEndpoint, match="403"):
            await thief.put(key, b"overwritten\n")
    await _reads_refused(upload_url, token, victims[0])
    for key in victims:
        assert await store.read(store.url(key)) == b"the victim's report\n"


async def _finished(bus: NatsBus, ref: Any) -> list[Any]:
    events = await step_events(bus, ref)
    return events if any(isinstance(e, StepFinished) for e in events) else []


def _token_of(spec: dict[str, Any]) -> str:
    [artifacts] = [c for c in spec["template"]["spec"]["containers"] if c["name"] == "artifacts"]
    [token] = [e["value"] for e in artifacts["env"] if e["name"] == "C8S_UPLOAD_TOKEN"]
    assert token
    return str(token)


async def _reads_refused(upload_url: str, token: str, victim: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as session:
        for path in (f"/artifacts/{victim}", "/artifacts/", "/"):
            async with session.get(upload_url + path, headers=headers) as response:
                assert response.status in (404, 405), path
                assert b"victim" not in await response.read()
