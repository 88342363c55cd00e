"""Local mode survives its own processes dying: kill -9 of the scheduler, the runner, the
log-shipper, the projector or nats-server in the middle of a run.

`c8s dev up` restarts the killed process; the run must still end Succeeded, with every step run
exactly once (each step appends a line to a file outside its workspace) and every log line
stored exactly once. Consumers' ack wait is shortened (C8S_ACK_WAIT_SECONDS) so work a killed
process held is redelivered within seconds.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.local import Instance, pipeline, step
from tests.support.dev_up import DevUp, alive
from tests.support.git_daemon import served_repo

LINES = 40
VICTIMS = ["scheduler", "runner", "log-shipper", "projector", "nats-server"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with served_repo(tmp_path_factory.mktemp("repos"), {"README": "reliability\n"}) as served:
        yield served


def counting_step(name: str, ledger: Path, *deps: str) -> dict[str, object]:
    """A step that records that it ran, then prints LINES numbered lines over about two seconds."""
    return step(
        name,
        f"echo ran >> {ledger / name}",
        f'for i in $(seq 1 {LINES}); do echo "{name} line $i"; sleep 0.05; done',
        dependsOn=list(deps),
    )


@pytest.mark.parametrize("victim", VICTIMS)
def test_run_survives_kill_9(victim: str, repo: tuple[str, str], tmp_path: Path) -> None:
    """Killing one process mid-run loses nothing and duplicates nothing."""
    url, commit = repo
    ledger = tmp_path / "ledger"
    ledger.mkdir()
    with DevUp(tmp_path / "c8s", env={"C8S_ACK_WAIT_SECONDS": "3"}) as dev:
        dev.wait_for(r"^c8s is up$", deadline=120)
        c8s = Instance(dev)
        steps = [
            counting_step("one", ledger),
            counting_step("two", ledger, "one"),
            counting_step("three", ledger, "two"),
        ]
        c8s.apply(tmp_path, pipeline("steady-ci", url, steps))
        [name] = c8s.c8s("run", "steady-ci", "--commit", commit).stdout.split()
        # Step one has started once it wrote its ledger line (it then prints for ~2 s): a status
        # poll through the CLI can miss that window on a loaded machine.
        assert c8s.poll((ledger / "one").exists, deadline=60), "step one never started"
        os.kill(dev.pids()[victim], signal.SIGKILL)
        dev.wait_for(rf"^{victim} restarted", deadline=60)
        run = c8s.wait(name, deadline=180)
        assert run["status"]["phase"] == "Succeeded", run["status"]
        for s in ("one", "two", "three"):
            assert (ledger / s).read_text() == "ran\n", f"step {s} ran more than once"
            log = c8s.logs(name, s).splitlines()
            assert log == [f"{s} line {i}" for i in range(1, LINES + 1)], f"log of {s} lost or repeated lines"
        assert all(st.get("logURL") for st in run["status"]["steps"])
        assert dev.stop() == 0


def test_stopping_dev_up_stops_running_steps(repo: tuple[str, str], tmp_path: Path) -> None:
    """SIGTERM to `c8s dev up` leaves no step process behind (a kill -9 of the runner would)."""
    url, commit = repo
    pidfile = tmp_path / "step.pid"
    with DevUp(tmp_path / "c8s") as dev:
        dev.wait_for(r"^c8s is up$", deadline=120)
        c8s = Instance(dev)
        c8s.apply(
            tmp_path, pipeline("long-ci", url, [step("long", f"echo $$ > {pidfile}", "exec sleep 120")])
        )
        [name] = c8s.c8s("run", "long-ci", "--commit", commit).stdout.split()
        c8s.wait_step(name, "long", "Running")
        pid = int(pidfile.read_text())
        assert alive(pid)
        assert dev.stop() == 0
    assert not alive(pid), "the step's process outlived c8s dev up"
