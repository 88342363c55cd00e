"""host.sweep_stale: what an earlier, killed cluster left running is killed before a new one starts.

Runs in the main suite (no root, no cluster): the processes are this test's own. A copy of
/bin/sh under a fake build cache plays a leftover shim, with a `sleep` below it playing its
container; a `sleep` started from /bin is a bystander.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from host import processes, stale, sweep_stale


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state == "Z"


def _eventually_gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while not _gone(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_stale_takes_processes_run_from_the_cache_and_everything_below_them() -> None:
    table = {1: ("/sbin/init", 0), 10: ("/c/k1/bin/containerd-shim-runc-v2", 1), 11: ("/bin/sh", 10),
             12: ("/bin/sleep", 11), 20: ("/usr/bin/python3", 1), 30: ("/c/k2/bin/kubelet (deleted)", 1)}
    assert stale(table, Path("/c")) == [12, 11, 10, 30]
    assert stale(table, Path("/elsewhere")) == []


def test_sweep_kills_a_leftover_and_its_children_not_a_bystander(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    (cache / "key" / "bin").mkdir(parents=True)
    shim = cache / "key" / "bin" / "shim"
    shutil.copy("/bin/sh", shim)
    # `read` from a pipe kept open: the "shim" outlives its child, as a real shim would (with
    # `wait`, the shell would exit on its own once its child is killed, before its own SIGKILL)
    leftover = subprocess.Popen([str(shim), "-c", "sleep 300 & echo $!; read _"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, start_new_session=True)
    bystander = subprocess.Popen(["sleep", "300"])
    try:
        assert leftover.stdout is not None
        container = int(leftover.stdout.readline())
        assert processes()[container][1] == leftover.pid
        killed = sweep_stale(cache)
        assert [int(k.split()[0]) for k in killed] == [container, leftover.pid], killed
        assert leftover.wait(timeout=10) == -9
        assert _eventually_gone(container)
        assert bystander.poll() is None
    finally:
        for p in (leftover, bystander):
            p.kill()
            p.wait()
        for pipe in (leftover.stdin, leftover.stdout):
            if pipe is not None:
                pipe.close()
