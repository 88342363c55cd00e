"""Fixtures for tests against the real control plane (tests/controlplane).

- ``control_plane`` (session): etcd, kube-apiserver, kube-controller-manager and the test node agent,
  started by plane.running() (the code ``tests/controlplane/up`` runs) in a thread with its own event
  loop, so every test keeps its own loop. Binaries come from $C8S_CONTROLPLANE_BIN (scripts/test sets
  it from tests/controlplane/build) or from running the build; if neither gives them, tests fail.
- ``k8s_api``: a kubernetes_asyncio ApiClient with the admin kubeconfig, per test.
- ``namespace``: a fresh namespace per test, ready for pods (its default ServiceAccount exists),
  deleted afterwards.
- ``kubectl``: runs the plane's kubectl against the plane.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Generic, TypeVar

import pytest
from kubernetes_asyncio import client, config
from kubernetes_asyncio.client.exceptions import ApiException

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "controlplane"))

import plane as plane_mod

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from tests.k8s.waiting import eventually

T = TypeVar("T")
Kubectl = Callable[..., Awaitable[subprocess.CompletedProcess[str]]]


class PlaneThread(Generic[T]):
    """Runs an async context manager (plane.running(), cluster.running()) in a daemon thread until stop()."""

    def __init__(self, opener: Callable[[], contextlib.AbstractAsyncContextManager[T]]) -> None:
        self.opener = opener
        self.plane: T | None = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="control-plane")

    def start(self, timeout: float = plane_mod.START_TIMEOUT * 4) -> T:
        self._thread.start()
        self._ready.wait(timeout=timeout)
        if self.plane is None:
            self.stop()
            raise plane_mod.PlaneError(f"did not start: {self.error!r}") from self.error
        return self.plane

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=60)

    async def _main(self) -> None:
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        try:
            async with self.opener() as plane:
                self.plane = plane
                self._ready.set()
                await self._stop.wait()
        except BaseException as e:  # reported by start(); the thread must not die silently
            self.error = e
        finally:
            self._ready.set()


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[plane_mod.Plane]:
    failure = None
    try:
        directory, bin_dir = tmp_path_factory.mktemp("plane"), plane_mod.find_binaries()
        runner = PlaneThread(lambda: plane_mod.running(directory, bin_dir))
        plane = runner.start()
    except plane_mod.PlaneError as e:
        failure = str(e)
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    yield plane
    runner.stop()
    if runner.error is not None:
        raise runner.error


@pytest.fixture
async def bus(tmp_path: Path) -> AsyncIterator[NatsBus]:
    """A real nats-server of the test's own, and a bus on it with c8s's streams."""
    with NatsServer(tmp_path / "jetstream") as server:
        settings = BusSettings(servers=[server.url], name="tests", request_timeout=2.0)
        connected = await NatsBus.connect(settings)
        await connected.ensure_streams()
        yield connected
        await connected.close()


@pytest.fixture
async def k8s_api(control_plane: plane_mod.Plane) -> AsyncIterator[client.ApiClient]:
    api = await config.new_client_from_config(config_file=str(control_plane.kubeconfig))
    yield api
    await api.close()


@pytest.fixture
async def namespace(k8s_api: client.ApiClient) -> AsyncIterator[str]:
    name = await new_namespace(k8s_api)
    yield name
    await client.CoreV1Api(k8s_api).delete_namespace(name)


async def new_namespace(k8s_api: client.ApiClient) -> str:
    """A fresh test namespace, once its default ServiceAccount exists (pods need it)."""
    core = client.CoreV1Api(k8s_api)
    name = f"t-{uuid.uuid4().hex[:10]}"
    await core.create_namespace({"metadata": {"name": name, "labels": {"c8s.dev/test": "true"}}})

    async def default_sa_exists() -> bool:
        try:
            await core.read_namespaced_service_account("default", name)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    await eventually(default_sa_exists, what=f"ServiceAccount default in {name}")
    return name


@pytest.fixture
def kubectl(control_plane: plane_mod.Plane) -> Kubectl:
    return kubectl_on(control_plane)


def kubectl_on(control_plane: plane_mod.Plane) -> Kubectl:
    """Run the plane's kubectl: ``await kubectl(*args, check=True)`` -> its completed process."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(control_plane.directory),
           "KUBECONFIG": str(control_plane.kubeconfig)}

    async def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = await asyncio.create_subprocess_exec(
            str(control_plane.kubectl), *args, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        async with asyncio.timeout(60):
            out, err = await proc.communicate()
        code = proc.returncode or 0
        result = subprocess.CompletedProcess(["kubectl", *args], code, out.decode(), err.decode())
        if check and result.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}: {result.stderr}")
        return result

    return run
