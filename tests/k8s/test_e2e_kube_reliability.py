"""Kubernetes mode survives its own processes dying and its apiserver restarting mid-run.

`c8s dev up --kubeconfig` runs against the spare kube-apiserver (tests/k8s/spare_apiserver: the
plane's etcd, node agent and controllers stay up while it is killed and started again). Each run
has three steps in a chain; each step appends a line to a ledger outside its workspace, then prints
numbered lines over a few seconds.

Covers: kill -9 of the scheduler, the job-watcher, the log-shipper or the projector while a step
runs (dev up restarts it): the run ends Succeeded, each step ran once, its Job was created once
(one pod, the uid seen mid-run unchanged), and its shipped log has every line exactly once; the
apiserver killed while a step runs and started again after that step's Job finished: the run
completes the same way, and the scheduler's PipelineRun watch, whose position the restarted
apiserver's watch cache no longer has, got 410 Gone and re-listed (seen in its log).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import plane as plane_mod
import pytest

from tests.e2e.local import Instance, pipeline, step
from tests.k8s.kube_e2e import eventually, fresh_namespace, kube_dev_up, kubectl_json, repo, s3_env
from tests.k8s.spare_apiserver import SpareApiserver, c8s_crds, spare_apiserver

pytestmark = pytest.mark.k8s
__all__ = ["c8s_crds", "repo", "s3_env", "spare_apiserver"]

LINES = 60
STEPS = ("one", "two", "three")
VICTIMS = ["scheduler", "job-watcher", "log-shipper", "projector"]


@pytest.fixture(scope="module")
def ns(control_plane: plane_mod.Plane) -> str:
    return fresh_namespace(control_plane)


@pytest.fixture(scope="module")
def c8s(
    spare_apiserver: SpareApiserver, s3_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Instance]:
    home = tmp_path_factory.mktemp("kdev-rel") / "c8s"
    with kube_dev_up(home, spare_apiserver.kubeconfig, s3_env) as instance:
        yield instance


def counting_step(name: str, ledger: Path, *deps: str) -> dict[str, object]:
    """A step that records that it ran, then prints LINES numbered lines over about three seconds."""
    return step(
        name,
        f"echo ran >> {ledger / name}",
        f'for i in $(seq 1 {LINES}); do echo "{name} line $i"; sleep 0.05; done',
        dependsOn=list(deps),
    )


def start_run(c8s: Instance, ns: str, repo: tuple[str, str], tmp_path: Path, config: str) -> tuple[str, Path]:
    """Apply a three-step chain and run it; (run name, ledger directory)."""
    url, commit = repo
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    steps = [
        counting_step("one", ledger),
        counting_step("two", ledger, "one"),
        counting_step("three", ledger, "two"),
    ]
    c8s.apply(tmp_path, pipeline(config, url, steps, ns))
    [name] = c8s.c8s("run", config, "--commit", commit, "-n", ns).stdout.split()
    return name, ledger


def step_one_started(c8s: Instance, ledger: Path) -> None:
    """Until step one wrote its ledger line (it then prints for ~3 s): a Running status polled
    through the CLI can miss that window on a loaded machine."""
    assert c8s.poll((ledger / "one").exists, deadline=60), "step one never started"


def job_uid(plane: plane_mod.Plane, ns: str, job: str) -> str:
    return str(kubectl_json(plane, "get", "job", job, "-n", ns)["metadata"]["uid"])


def check_completed_once(
    c8s: Instance, plane: plane_mod.Plane, ns: str, name: str, ledger: Path, first_uid: str
) -> None:
    """Succeeded; every step ran once in one pod of one Job; every log line stored exactly once."""
    run = c8s.wait(name, ns, deadline=180)
    assert run["status"]["phase"] == "Succeeded", run["status"]
    for s in STEPS:
        assert (ledger / s).read_text() == "ran\n", f"step {s} ran more than once"
        pods = kubectl_json(plane, "get", "pods", "-n", ns, "-l", f"batch.kubernetes.io/job-name={name}-{s}")
        assert len(pods["items"]) == 1, f"step {s}: {len(pods['items'])} pods"
        log = c8s.logs(name, s, ns).splitlines()
        assert log == [f"{s} line {i}" for i in range(1, LINES + 1)], f"log of {s} lost or repeated lines"
    assert job_uid(plane, ns, f"{name}-one") == first_uid, "the Job of step one was created again"
    assert all(st.get("logURL") for st in run["status"]["steps"])


@pytest.mark.parametrize("victim", VICTIMS)
def test_run_survives_kill_9(
    victim: str, c8s: Instance, control_plane: plane_mod.Plane, ns: str, repo: tuple[str, str], tmp_path: Path
) -> None:
    """Killing one service mid-run loses nothing and creates no Job twice."""
    name, ledger = start_run(c8s, ns, repo, tmp_path, f"kill-{victim}")
    step_one_started(c8s, ledger)
    first_uid = job_uid(control_plane, ns, f"{name}-one")
    os.kill(c8s.dev.pids()[victim], signal.SIGKILL)
    c8s.dev.wait_for(rf"^{victim} restarted", deadline=60)
    check_completed_once(c8s, control_plane, ns, name, ledger, first_uid)


def test_run_survives_apiserver_restart(
    c8s: Instance,
    spare_apiserver: SpareApiserver,
    control_plane: plane_mod.Plane,
    ns: str,
    repo: tuple[str, str],
    tmp_path: Path,
) -> None:
    """The apiserver killed mid-step and started after the step's Job finished: the run completes
    and the scheduler's broken watch came back."""
    name, ledger = start_run(c8s, ns, repo, tmp_path, "apiserver-restart")
    step_one_started(c8s, ledger)
    first_uid = job_uid(control_plane, ns, f"{name}-one")
    scheduler_log = c8s.dev.home / "logs" / "scheduler.log"
    before = scheduler_log.stat().st_size
    spare_apiserver.stop()
    try:
        eventually(lambda: _job_done(control_plane, ns, f"{name}-one"), "Job of step one finished", 60)
    finally:
        spare_apiserver.start()
    check_completed_once(c8s, control_plane, ns, name, ledger, first_uid)
    with scheduler_log.open("rb") as log:
        log.seek(before)
        seen = log.read()
    # The watch broke and came back: resumed from its resourceVersion, or re-listed after a 410
    # (which of the two depends on how far the restarted apiserver's watch cache moved; the 410
    # path itself is pinned down in tests/k8s/test_kube_store.py).
    assert b'"kube.watch.expired"' in seen or b'"kube.watch.retry"' in seen, "the watch never broke"


def _job_done(plane: plane_mod.Plane, ns: str, job: str) -> bool:
    """Whether the Job has a Complete or Failed condition (read through the plane's own apiserver)."""
    conditions = kubectl_json(plane, "get", "job", job, "-n", ns).get("status", {}).get("conditions") or []
    return any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions)
