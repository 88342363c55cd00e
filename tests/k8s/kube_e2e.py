"""Helpers of the Kubernetes-mode end-to-end tests: a real S3 endpoint (moto's server mode on
loopback), a repository served by `git daemon`, a fresh namespace, kubectl, and `c8s dev up
--kubeconfig` as a real subprocess with the CLI pointed at the same cluster and bus.

The node agent ignores images, so the artifacts container runs this interpreter
(C8S_ARTIFACTS_COMMAND); everything else is what a user would run. Consumers' ack wait is short
(C8S_ACK_WAIT_SECONDS) so work a killed process held is redelivered within seconds. When dev up
has stopped, no service log may report an aiohttp session or connector left unclosed.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import plane as plane_mod
import pytest
import s3fs

from tests.e2e.local import Instance
from tests.k8s.spare_apiserver import kubectl_env
from tests.support.dev_up import DevUp
from tests.support.git_daemon import served_repo
from tests.support.s3_server import s3_client, s3_server

BUCKET = "c8s-e2e"
#: Not read by c8s: where the s3_env fixture names its bucket.
BUCKET_VARIABLE = "E2E_BUCKET"
SIDECAR = shlex.join([sys.executable, "-m", "services.artifact_sidecar"])
SERVICE_ENV = {"C8S_ARTIFACTS_COMMAND": SIDECAR, "C8S_ACK_WAIT_SECONDS": "3"}


@pytest.fixture(scope="module")
def s3_env() -> Iterator[dict[str, str]]:
    """The standard AWS_* variables of a real S3 endpoint on loopback, with an empty bucket named
    by BUCKET_VARIABLE (moto's state is per process: each module gets its own bucket)."""
    with s3_server(BUCKET) as (env, bucket):
        yield env | {BUCKET_VARIABLE: bucket}


def s3(env: dict[str, str]) -> s3fs.S3FileSystem:
    return s3_client(env)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A git:// URL served by `git daemon` and its one commit."""
    with served_repo(tmp_path_factory.mktemp("repos"), {"src/app.txt": "version 1\n"}) as served:
        yield served


def kubectl(plane: plane_mod.Plane, *args: str, kubeconfig: Path | None = None) -> str:
    """kubectl of the plane's release against the plane (or `kubeconfig`); its stdout."""
    env = kubectl_env(plane) | ({"KUBECONFIG": str(kubeconfig)} if kubeconfig else {})
    done = subprocess.run([str(plane.kubectl), *args], env=env, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


def kubectl_json(plane: plane_mod.Plane, *args: str) -> dict[str, Any]:
    out: dict[str, Any] = json.loads(kubectl(plane, *args, "-o", "json"))
    return out


def fresh_namespace(plane: plane_mod.Plane) -> str:
    """A new namespace whose default ServiceAccount exists (pods are refused before it does)."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    kubectl(plane, "create", "namespace", name)
    eventually(lambda: bool(kubectl(plane, "get", "serviceaccounts", "-n", name, "-o", "name")), "default SA")
    return name


def eventually(check: Any, what: str, deadline: float = 60.0) -> None:
    """Poll `check()` until true; fail naming `what` at the deadline."""
    end = time.monotonic() + deadline
    while not check():
        if time.monotonic() > end:
            raise AssertionError(f"{what}: not true within {deadline}s")
        time.sleep(0.2)


@contextmanager
def kube_dev_up(home: Path, kubeconfig: Path, s3_env: dict[str, str], *extra: str) -> Iterator[Instance]:
    """`c8s dev up --kubeconfig` (plus `extra` options) with logs on S3, and the CLI against its
    cluster and bus."""
    store = f"s3://{s3_env[BUCKET_VARIABLE]}/{home.name}"
    env = {**SERVICE_ENV, **s3_env}
    with DevUp(home, "--kubeconfig", str(kubeconfig), "--log-store", store, *extra, env=env) as dev:
        dev.wait_for(r"^c8s CRDs (installed and )?established$", deadline=60)
        dev.wait_for(r"^c8s is up$", deadline=120)
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith(("C8S_", "AWS_"))} | s3_env
        yield Instance(dev, "--kubeconfig", str(kubeconfig), env=cli_env)
        assert dev.stop() == 0, dev.output
    assert not unclosed_sessions(home / "logs"), unclosed_sessions(home / "logs")


def unclosed_sessions(logs: Path) -> dict[str, int]:
    """Service log -> how many times it reported an aiohttp session or connector left unclosed."""
    counts = {log.name: log.read_text(errors="replace").count("Unclosed ") for log in logs.glob("*.log")}
    return {name: n for name, n in counts.items() if n}


def steps_of(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in run["status"]["steps"]}
