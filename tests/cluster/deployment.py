"""deploy/ applied to the cluster as a user would, with an onboarded team namespace: the setup and
teardown test_deploy.py and test_nats_cluster.py share, and the waits their scenarios use.

``deployment`` (an async context manager): the c8s and NATS images pushed, one hostPath
PersistentVolume per NATS server, ``kubectl apply --server-side -k`` of an overlay of deploy/
(c8s_deploy.kustomization, with kustomize Components such as ``nats-cluster``), scripts/deploy-secrets,
every Deployment and StatefulSet Ready, and a team namespace onboarded with a git daemon pod behind
Service ``git``, a webhook Secret, PipelineConfig ``app-ci`` and a GitHub connection. On the way out
everything is deleted without waiting (the next module's ``deployment`` first waits for it to be
gone: deploy/ uses fixed names).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import c8s_deploy
import cluster as cluster_mod  # tests/cluster on sys.path (conftest.py)
import yaml
from kubernetes_asyncio import client, config
from test_node import GIT_DAEMON

from c8s.onboarding import manifest as onboarding_manifest
from tests.cluster.conftest import built_image
from tests.e2e.local import connection, pipeline, secret, step
from tests.k8s.conftest import Kubectl, kubectl_on, new_namespace
from tests.k8s.waiting import eventually
from tests.support.s3_server import s3_server
from tests.support.webhooks import REPOSITORIES

RUN_TIMEOUT = 180.0  # a first pull of c8s/step for the clone container and the step included
READY_TIMEOUT = 420.0  # 17 pods, 16 of them Python, starting on 2 shared cores (~20 s at load 8)
GONE_TIMEOUT = 180.0  # a previous module's deployment being deleted
KEY = b"cluster-webhook-key"  # the team's webhook secret
NS = c8s_deploy.NAMESPACE
#: deploy/'s cluster-wide objects with fixed names, which a previous deployment may still be deleting
FIXED = [f"namespace/{NS}",
         *(f"crd/{c}.c8s.dev" for c in ("pipelineconfigs", "pipelineruns", "repositoryconnections"))]


class Deployed(NamedTuple):
    """deploy/ Ready in the cluster, with an onboarded team namespace whose git daemon serves ``commit``."""

    cluster: cluster_mod.Cluster
    kubectl: Kubectl
    api: client.ApiClient
    namespace: str
    commit: str
    s3: dict[str, str]
    directory: Path


@contextlib.asynccontextmanager
async def deployment(cluster: cluster_mod.Cluster, directory: Path, nats_servers: int = 1,
                     components: Sequence[str] = ()) -> AsyncIterator[Deployed]:
    kubectl = kubectl_on(cluster.plane)
    await built_image(cluster, "c8s-image", "c8s")
    await built_image(cluster, "nats-image", "nats")
    await eventually(lambda: _gone(kubectl), what="a previous deployment's removal", within=GONE_TIMEOUT)
    api = await config.new_client_from_config(config_file=str(cluster.plane.kubeconfig))
    with s3_server(host=cluster.node_ip) as (s3, bucket):
        volumes = [c8s_deploy.nats_volume(directory / f"nats-{i}", server=i) for i in range(nats_servers)]
        await apply(kubectl, directory / "volumes.yaml", *volumes)
        base = c8s_deploy.kustomization(directory / "deploy", cluster.registry, s3, bucket, components)
        namespace = await new_namespace(api)
        try:
            started = time.monotonic()
            await kubectl("apply", "--server-side", "-k", str(base))
            await _deploy_secrets(cluster)
            await _all_ready(kubectl, base)
            parts = " + ".join(["deploy/", *components])
            print(f"{parts} Ready in {time.monotonic() - started:.1f}s")
            commit = await _team(kubectl, api, directory, namespace, cluster)
            yield Deployed(cluster, kubectl, api, namespace, commit, s3, directory)
        finally:
            await _remove(kubectl, base, volumes)
            await client.CoreV1Api(api).delete_namespace(namespace)
            await api.close()


async def apply(kubectl: Kubectl, path: Path, *docs: dict[str, Any]) -> None:
    await asyncio.to_thread(path.write_text, yaml.safe_dump_all(docs))
    await kubectl("apply", "-f", str(path))


async def step_phase(kubectl: Kubectl, namespace: str, run: str, name: str, phase: str) -> None:
    async def reached() -> bool:
        got = await kubectl("get", "pipelineruns.c8s.dev", run, "-n", namespace, "-o", "json", check=False)
        status = json.loads(got.stdout).get("status") or {} if got.returncode == 0 else {}
        return any(s["name"] == name and s.get("phase") == phase for s in status.get("steps", []))

    await eventually(reached, what=f"step {name} of {run} {phase}", within=RUN_TIMEOUT)


async def finished_run(kubectl: Kubectl, namespace: str, run: str) -> dict[str, Any]:
    """The PipelineRun's status once it is Succeeded, Failed or Cancelled (the projector writes it)."""
    async def finished() -> dict[str, Any] | None:
        got = await kubectl("get", "pipelineruns.c8s.dev", run, "-n", namespace, "-o", "json", check=False)
        status: dict[str, Any] = json.loads(got.stdout).get("status") or {} if got.returncode == 0 else {}
        return status if status.get("phase") in ("Succeeded", "Failed", "Cancelled") else None

    return await eventually(finished, what=f"PipelineRun {run} in {namespace} to finish", within=RUN_TIMEOUT)


async def _gone(kubectl: Kubectl) -> bool:
    got = await kubectl("get", *FIXED, "--ignore-not-found", "-o", "name", check=False)
    volumes = await kubectl("get", "persistentvolumes", "-o", "name", check=False)
    leftover = [v for v in volumes.stdout.split() if v.startswith("persistentvolume/c8s-data-nats-")]
    return got.returncode == volumes.returncode == 0 and not got.stdout.strip() and not leftover


async def _deploy_secrets(cluster: cluster_mod.Cluster) -> None:
    plane = cluster.plane
    env = {**os.environ, "KUBECONFIG": str(plane.kubeconfig), "KUBECTL": str(plane.kubectl)}
    done = await asyncio.to_thread(subprocess.run, [str(c8s_deploy.REPO / "scripts" / "deploy-secrets")],
                                   env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, f"scripts/deploy-secrets exited {done.returncode}: {done.stderr}"


async def _all_ready(kubectl: Kubectl, base: Path) -> None:
    """Every Deployment and StatefulSet of the overlay Ready; on the deadline, fail with what the
    pods say."""
    expected = c8s_deploy.workloads((await kubectl("kustomize", str(base))).stdout)
    assert len(expected) == 9, expected  # 8 services and NATS: deploy/ lost or gained one
    deadline, late = time.monotonic() + READY_TIMEOUT, sorted(expected)
    while time.monotonic() < deadline:
        listed = json.loads((await kubectl("get", "deployments,statefulsets", "-n", NS, "-o", "json")).stdout)
        late = c8s_deploy.not_ready(expected, listed["items"])
        if not late:
            return
        await asyncio.sleep(2)
    pods = (await kubectl("get", "pods", "-n", NS, "-o", "wide")).stdout
    events = (await kubectl("get", "events", "-n", NS, "--sort-by=.lastTimestamp")).stdout
    logs = (await kubectl("logs", "-n", NS, "-l", "app.kubernetes.io/part-of=c8s", "--all-containers",
                          "--prefix", "--tail=15", "--max-log-requests=30", check=False)).stdout
    raise AssertionError(f"not Ready after {READY_TIMEOUT:.0f}s: {late}\n{pods}\n"
                         f"{events[-6000:]}\n{logs[-8000:]}")


async def _team(kubectl: Kubectl, k8s_api: client.ApiClient, tmp_path: Path, namespace: str,
                cluster: cluster_mod.Cluster) -> str:
    """Onboard ``namespace`` and give it a git daemon behind Service ``git``, a webhook Secret, a
    PipelineConfig of that repository and a connection from GitHub's; returns the repository's HEAD."""
    await asyncio.to_thread((tmp_path / "onboard.yaml").write_text, onboarding_manifest(namespace))
    await kubectl("apply", "-f", str(tmp_path / "onboard.yaml"))
    core = client.CoreV1Api(k8s_api)
    container = {"name": "git", "image": cluster.image("step"), "command": ["sh", "-c", GIT_DAEMON]}
    await core.create_namespaced_pod(namespace, {"metadata": {"name": "git", "labels": {"app": "git"}},
                                                 "spec": {"containers": [container]}})
    await core.create_namespaced_service(namespace, {"metadata": {"name": "git"}, "spec": {
        "selector": {"app": "git"}, "ports": [{"port": 9418, "targetPort": 9418}]}})

    async def head() -> str | None:
        got = await kubectl("exec", "-n", namespace, "git", "--", "git", "-C", "/srv/r", "rev-parse", "HEAD",
                            check=False)
        return got.stdout.strip() if got.returncode == 0 else None

    commit = await eventually(head, what="the git daemon's repository", within=RUN_TIMEOUT)
    repository = f"git://git.{namespace}.svc.cluster.local/r"
    build = step("build", "git log -1 --format=%H", image=cluster.image("step"))
    github = REPOSITORIES["github"]
    await apply(kubectl, tmp_path / "team.yaml", secret("gh-hook", namespace, webhook_secret=KEY.decode()),
                pipeline("app-ci", repository, [build], namespace),
                connection("gh", "github", github, "app-ci", "gh-hook", namespace))
    return commit


async def _remove(kubectl: Kubectl, base: Path, volumes: Sequence[dict[str, Any]]) -> None:
    """The webhook configuration first (it refuses c8s objects once admission is gone), then the rest."""
    await kubectl("delete", "validatingwebhookconfiguration", "c8s-admission", "--ignore-not-found",
                  check=False)
    await kubectl("delete", "-k", str(base), "--ignore-not-found", "--wait=false", check=False)
    for volume in volumes:
        await kubectl("delete", "persistentvolume", volume["metadata"]["name"], "--ignore-not-found",
                      "--wait=false", check=False)
