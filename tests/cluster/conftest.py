"""Fixtures for tests on the single-node cluster of real parts (tests/cluster).

- ``cluster`` (session): cluster.running() (the code ``tests/cluster/up`` runs) in a thread with its
  own loop. Binaries and images come from $C8S_CONTROLPLANE_BIN / $C8S_CLUSTER_BUILD or from running
  the two build scripts; if they cannot be had, or the host cannot run the cluster (not root, another
  cluster holds the host lock), every test fails with the reason. On teardown the cluster removes its
  pods through the CRI and stops only the processes it started.
- ``control_plane`` is the cluster's plane, so tests/k8s's ``k8s_api``, ``namespace`` and ``kubectl``
  work here unchanged.
- ``c8s_image``: the project's image (tests/cluster/c8s-image, cached by its inputs) pushed to the
  cluster's registry; its reference.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "controlplane"))

import binaries  # noqa: E402
import cluster as cluster_mod  # noqa: E402
import images  # noqa: E402
import plane as plane_mod  # noqa: E402

from tests.k8s.conftest import PlaneThread, k8s_api, kubectl, namespace  # noqa: E402

__all__ = ["k8s_api", "kubectl", "namespace"]

START_TIMEOUT = 300.0  # pushing the images and a first pull of the pause image included


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cluster_mod.Cluster]:
    failure = None
    try:
        if os.geteuid() != 0:
            raise cluster_mod.HostError("the cluster runs containerd, runc and the kubelet: it needs root")
        directory = tmp_path_factory.mktemp("cluster")
        plane_bin, build_dir = plane_mod.find_binaries(), binaries.find()
        runner = PlaneThread(lambda: cluster_mod.running(directory, plane_bin, build_dir))
        running = runner.start(timeout=START_TIMEOUT)
    except (plane_mod.PlaneError, binaries.BuildError, cluster_mod.HostError) as e:
        failure = str(e)
    if failure is not None:
        pytest.fail(failure, pytrace=False)
    yield running
    runner.stop()
    if runner.error is not None:
        raise runner.error


@pytest.fixture(scope="session")
def control_plane(cluster: cluster_mod.Cluster) -> plane_mod.Plane:
    return cluster.plane


async def built_image(cluster: cluster_mod.Cluster, script: str, name: str) -> str:
    """Run tests/cluster/``script`` (an image build that prints its OCI archive last, cached by its
    inputs) and push the archive to the cluster's registry as c8s/``name``; its reference."""
    env = {**os.environ, "C8S_CLUSTER_BUILD": str(cluster.bin_dir.parent)}
    result = await asyncio.to_thread(
        subprocess.run, [str(HERE / script)], stdout=subprocess.PIPE, text=True, env=env, check=False)
    if result.returncode != 0:
        pytest.fail(f"tests/cluster/{script} exited {result.returncode} (output above)", pytrace=False)
    ref = cluster.image(name)
    await images.push(Path(result.stdout.strip().splitlines()[-1]), ref)
    return ref


@pytest.fixture
async def c8s_image(cluster: cluster_mod.Cluster) -> str:
    """The c8s image in the cluster's registry (built once per input hash by tests/cluster/c8s-image;
    pushing it again is a few seconds, the registry keeps the blobs)."""
    return await built_image(cluster, "c8s-image", "c8s")
