"""Ending a whole process tree, escaped sessions included: a child subreaper and a /proc sweep.

A step's commands can leave their process group (`setsid cmd &`, a daemon's double fork), so
killing the group does not end everything they started. Two ways close that gap on Linux:

- a cgroup per step: exact (`cgroup.kill`), but it needs a writable cgroup v2 hierarchy. Where it
  is mounted differs (`/sys/fs/cgroup` on unified hosts, `/sys/fs/cgroup/unified` on hybrid ones
  such as this project's dev and CI machines), a non-root `c8s dev up` cannot write it without
  systemd delegation, and the "no internal processes" rule constrains where leaves may go;
- a **child subreaper** (`prctl(PR_SET_CHILD_SUBREAPER)`), chosen here: any process that is left
  an orphan below the subreaper is re-parented to it instead of to PID 1, whatever session or group
  it moved to. So everything a step started stays a descendant of the process that ran it, found
  by walking parent links in /proc. It needs no privileges and no mount, and Kubernetes gives the
  same guarantee in the other mode (a container's processes die with it).

Caller's contract: the subreaper runs exactly one step (the runner's shim does), so *every*
descendant of the current process belongs to that step. `end_descendants` sends SIGTERM to all of
them, waits up to a grace period, then freezes (SIGSTOP, repeated until no new process appears,
so a forking loop cannot outrun it) and SIGKILLs what is left, until no live descendant remains;
orphans that ended are reaped (never `keep`, the pid asyncio's child watcher waits for).

Invariant: when `end_descendants` returns, no descendant of this process is alive (zombies
excepted, and those it could reap are reaped). Without /proc (not Linux) it finds no descendants
and does nothing; the process-group kill of adapters.runtime.processes is then all there is.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path

PR_SET_CHILD_SUBREAPER = 36
_POLL_SECONDS = 0.05
_PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str

    @property
    def live(self) -> bool:
        return self.state not in ("Z", "X")


def become_subreaper() -> bool:
    """Make orphans below this process its children (Linux); False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    return int(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0


def descendants(root: int) -> list[Proc]:
    """Every process below `root` in the process table (zombies included), parents first."""
    table = _table()
    children: dict[int, list[Proc]] = {}
    for p in table:
        children.setdefault(p.ppid, []).append(p)
    found: list[Proc] = []
    queue = [root]
    while queue:
        for child in children.get(queue.pop(0), []):
            found.append(child)
            queue.append(child.pid)
    return found


def live_descendants(root: int) -> list[int]:
    return [p.pid for p in descendants(root) if p.live]


def reap_orphans(keep: int | None = None) -> None:
    """Collect the exit status of this process's ended children, except `keep`."""
    me = os.getpid()
    for p in descendants(me):
        if p.ppid == me and not p.live and p.pid != keep:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(p.pid, os.WNOHANG)


async def end_descendants(grace: float, keep: int | None = None) -> None:
    """SIGTERM every descendant, SIGKILL what is left after `grace` seconds; return once none lives."""
    me = os.getpid()
    _signal_all(live_descendants(me), signal.SIGTERM)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    while loop.time() < deadline:
        reap_orphans(keep)
        if not live_descendants(me):
            return
        await asyncio.sleep(_POLL_SECONDS)
    while live := live_descendants(me):
        _signal_all(_frozen(me, live), signal.SIGKILL)
        reap_orphans(keep)
        await asyncio.sleep(0.01)


def _frozen(me: int, live: list[int]) -> list[int]:
    """Stop every live descendant until a listing finds no new one; return them all."""
    seen: set[int] = set()
    while fresh := [pid for pid in live if pid not in seen]:
        _signal_all(fresh, signal.SIGSTOP)
        seen.update(fresh)
        live = live_descendants(me)
    return sorted(seen)


def _signal_all(pids: list[int], sig: signal.Signals) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, sig)


def _table() -> list[Proc]:
    if not _PROC.is_dir():
        return []
    table = []
    for stat in _PROC.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            head, tail = stat.read_text().rsplit(")", 1)
            fields = tail.split()
            table.append(Proc(pid=int(head.split(" (", 1)[0]), ppid=int(fields[1]), state=fields[0]))
    return table
