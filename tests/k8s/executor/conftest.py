"""Fixtures of the executor-side tests: the c8s CRDs (a PipelineRun owns each Job), a local git
repository to check out, the executor over the plane with a file:// object store behind the
job-watcher's artifact upload endpoint (step pods get an upload token, no storage credential). The
bus on a real nats-server is tests/k8s/conftest.py's."""

from __future__ import annotations

import os
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import plane as plane_mod
import pytest
from kubernetes_asyncio import client

from adapters.kube.connection import KubeConnection
from adapters.kube.jobs import KubeExecutor
from adapters.object_store import FsspecObjectStore
from services.job_watcher.uploads import Uploads, listening
from steps.job_manifest import PodTools
from tests.k8s.executor.kube_harness import KubeStepHarness
from tests.k8s.executor.steps import CRD_DIR, SIDECAR_COMMAND
from tests.support.git_daemon import GitRepo

UPLOAD_KEY = os.urandom(32)


@pytest.fixture(scope="session")
def c8s_crds(control_plane: plane_mod.Plane) -> None:
    """The c8s CRDs applied once (PipelineRuns own the Jobs; a Job with a dangling owner is collected)."""
    env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(control_plane.kubeconfig),
           "HOME": str(control_plane.directory)}
    result = subprocess.run([str(control_plane.kubectl), "apply", "-f", str(CRD_DIR)], env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.fixture
def repo(tmp_path: Path) -> tuple[str, str]:
    """A local git repository (file:// URL) and its one commit, for the checkout init container."""
    r = GitRepo.create(tmp_path / "repo")
    commit = r.commit({"hello.txt": "hello from the repo\n"}, "first")
    return (tmp_path / "repo").as_uri(), commit


@pytest.fixture
async def kube(control_plane: plane_mod.Plane) -> AsyncIterator[KubeConnection]:
    conn = KubeConnection(str(control_plane.kubeconfig))
    yield conn
    await conn.close()


@pytest.fixture
def objects_url(tmp_path: Path) -> str:
    return (tmp_path / "objects").as_uri()


@pytest.fixture
async def upload_url(objects_url: str) -> AsyncIterator[str]:
    """The job-watcher's artifact upload endpoint over the file:// store, on a free loopback port."""
    async with listening(Uploads(FsspecObjectStore(objects_url), UPLOAD_KEY, 10**6), "127.0.0.1", 0) as url:
        yield url


@pytest.fixture
def executor(kube: KubeConnection, objects_url: str, upload_url: str) -> KubeExecutor:
    tools = PodTools(artifacts_command=SIDECAR_COMMAND, object_store_url=objects_url, upload_url=upload_url)
    return KubeExecutor(kube, tools, UPLOAD_KEY)


@pytest.fixture
def kube_step_harness(
    k8s_api: client.ApiClient,
    namespace: str,
    repo: tuple[str, str],
    executor: KubeExecutor,
    kube: KubeConnection,
) -> KubeStepHarness:
    """The step harness of the Kubernetes adapters, for the Executor and StepLogs contract suites."""
    return KubeStepHarness(k8s_api, namespace, repo, executor, kube)
