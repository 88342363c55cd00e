"""Supervision of local processes for `c8s dev up`: start each child, restart it when it dies, stop
them all.

Each child runs in its own session (its own process group), so a Ctrl-C in the terminal reaches
only the supervisor, which then decides the order: stop() sends SIGTERM to the named children's
groups at once and SIGKILL to whatever is left after the grace period. A child that exits while
the supervisor is not stopping is restarted after a backoff that doubles per quick death (1 s,
2 s, ... up to 30 s) and starts over once a child has stayed up for a while. Output (stdout and
stderr) is appended to the child's log file, with a marker line per start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

Report = Callable[[str], None]

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
#: A child that ran at least this long before dying is restarted after FIRST_BACKOFF again.
STABLE_SECONDS = 30.0
GRACE_SECONDS = 10.0


@dataclass(frozen=True)
class ChildSpec:
    """What to run: `argv` with exactly `env`, output appended to `log_path`."""

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str]
    log_path: Path
    cwd: Path | None = None


class Child:
    """One supervised child and its current process (None between a death and its restart)."""

    def __init__(self, spec: ChildSpec) -> None:
        self.spec = spec
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0
        self.quick_deaths = 0
        self.started_at = 0.0
        self.watcher: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.returncode is None else None


def status_line(child: Child, shown_path: str) -> str:
    """The terminal's one line for a started child."""
    return f"  {child.spec.name:<12} started, pid {child.pid}, log {shown_path}"


def backoff(quick_deaths: int) -> float:
    """Seconds before the next restart after `quick_deaths` deaths in a row (1, 2, 4, ... 30)."""
    return float(min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** max(0, quick_deaths - 1)))


class Supervisor:
    def __init__(self, report: Report, grace: float = GRACE_SECONDS) -> None:
        self.report = report
        self.grace = grace
        self.children: dict[str, Child] = {}
        self._stopping: set[str] = set()

    async def start(self, spec: ChildSpec) -> Child:
        """Start a child now and keep it running until stop()."""
        child = self.children[spec.name] = Child(spec)
        await self._spawn(child)
        child.watcher = asyncio.create_task(self._watch(child), name=f"watch-{spec.name}")
        return child

    def pids(self) -> dict[str, int]:
        return {name: c.pid for name, c in self.children.items() if c.pid is not None}

    async def stop(self, names: Iterable[str] | None = None) -> None:
        """Stop the named children (default all) together: SIGTERM, then SIGKILL after the grace."""
        chosen = [self.children[n] for n in (self.children if names is None else names) if n in self.children]
        self._stopping.update(c.spec.name for c in chosen)
        for child in chosen:
            if child.watcher is not None:
                child.watcher.cancel()
        await asyncio.gather(*(self._terminate(c) for c in chosen))

    async def _spawn(self, child: Child) -> None:
        spec = child.spec
        spec.log_path.parent.mkdir(parents=True, exist_ok=True)
        with spec.log_path.open("ab") as log:
            log.write(f"--- c8s dev up: starting {spec.name} at {_now()} ---\n".encode())
            log.flush()
            child.proc = await asyncio.create_subprocess_exec(
                *spec.argv,
                env=dict(spec.env),
                cwd=spec.cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        child.starts += 1
        child.started_at = time.monotonic()

    async def _watch(self, child: Child) -> None:
        while child.proc is not None:
            code = await child.proc.wait()
            if child.spec.name in self._stopping:
                return
            ran = time.monotonic() - child.started_at
            child.quick_deaths = 1 if ran >= STABLE_SECONDS else child.quick_deaths + 1
            delay = backoff(child.quick_deaths)
            self.report(
                f"{child.spec.name} exited with code {_status(code)} after {ran:.1f}s "
                f"(log: {child.spec.log_path}); restarting in {delay:g}s"
            )
            await asyncio.sleep(delay)
            await self._spawn(child)
            self.report(f"{child.spec.name} restarted (pid {child.pid}, start #{child.starts})")

    async def _terminate(self, child: Child) -> None:
        proc = child.proc
        if proc is None:
            return
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), self.grace)
        except TimeoutError:
            self.report(f"{child.spec.name} did not stop within {self.grace:g}s: killing it")
            _signal_group(proc.pid, signal.SIGKILL)
            await proc.wait()
        # Whatever the child left in its group goes with it.
        _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _status(code: int) -> str:
    """A signal death reads as 128+N, as a shell reports it."""
    return str(128 - code) if code < 0 else str(code)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
