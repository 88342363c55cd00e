"""Local processes: start one, stream its output to a file, wait for its exit code, kill its group.

This is the executor underneath local mode (each step a subprocess) and the test node agent (each
container a subprocess); both rely on the same invariants:

- Every process leads a new session, hence its own process group, and nothing started through it
  outlives it: when the leader exits, or on ``kill()``, the whole group gets SIGTERM, then SIGKILL
  after a grace period (the way a container's PID namespace dies with its PID 1).
- stdout and stderr are merged and appended to ``log_path`` chunk by chunk as they are produced, so
  a reader of the file sees output while the process runs and nothing is held back in memory; each
  chunk is also handed to ``on_output`` (e.g. to timestamp it or wake a follower) after it is written.
- ``wait()`` returns the exit status the way a shell or Kubernetes reports it: the exit code, or
  128 + N when the process was ended by signal N. It returns only once all output is in the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

DEFAULT_GRACE_SECONDS = 5.0
_CHUNK = 64 * 1024
_GROUP_POLL_SECONDS = 0.05

OutputCallback = Callable[[bytes], None]


class ProcessStartError(Exception):
    """The process could not be started (missing executable, bad cwd, permission denied)."""


@dataclass
class RunningProcess:
    """A started process group; use ``wait()`` for its exit status and ``kill()`` to end it early."""

    pid: int
    log_path: Path
    _proc: asyncio.subprocess.Process = field(repr=False)
    _pump: asyncio.Task[None] = field(repr=False)
    _done: asyncio.Task[int] = field(repr=False)

    @property
    def returncode(self) -> int | None:
        """The exit status once ``wait()`` has completed, else None."""
        return self._done.result() if self._done.done() and not self._done.cancelled() else None

    async def wait(self) -> int:
        """Wait for the leader to exit and its output to be written; return its exit status."""
        return await asyncio.shield(self._done)

    async def kill(self, grace: float = DEFAULT_GRACE_SECONDS) -> int:
        """Signal the whole group (SIGTERM, then SIGKILL after ``grace`` seconds); return the status."""
        if not self._done.done():
            await _end_group(self.pid, grace)
        return await self.wait()


async def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    on_output: OutputCallback | None = None,
    grace: float = DEFAULT_GRACE_SECONDS,
) -> RunningProcess:
    """Start ``argv`` in its own session with exactly ``env``, appending its output to ``log_path``."""
    if not argv:
        raise ProcessStartError("empty argv")
    log = _open_log(log_path)
    # Our own pipe rather than asyncio's: asyncio's wait() also waits for its pipes to close, which
    # a leftover child holding the write end would delay forever.
    read_fd, write_fd = os.pipe()
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=dict(env),
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=write_fd,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    except OSError as e:
        os.close(read_fd)
        log.close()
        raise ProcessStartError(f"cannot start {argv[0]!r} in {cwd}: {e}") from e
    finally:
        os.close(write_fd)
    reader = asyncio.StreamReader()
    await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
    )
    pump = asyncio.create_task(_pump(reader, log, on_output))
    done = asyncio.create_task(_supervise(proc, pump, grace))
    return RunningProcess(pid=proc.pid, log_path=log_path, _proc=proc, _pump=pump, _done=done)


def _open_log(log_path: Path) -> BinaryIO:
    # Unbuffered append: a follower reading the file sees each chunk as soon as on_output fires.
    log_path.parent.mkdir(parents=True, exist_ok=True)
    return log_path.open("ab", buffering=0)


async def _pump(stream: asyncio.StreamReader, log: BinaryIO, on_output: OutputCallback | None) -> None:
    with log:
        while chunk := await stream.read(_CHUNK):
            log.write(chunk)
            if on_output is not None:
                on_output(chunk)


async def _supervise(proc: asyncio.subprocess.Process, pump: asyncio.Task[None], grace: float) -> int:
    try:
        code = await proc.wait()
    except asyncio.CancelledError:
        await _end_group(proc.pid, 0.0)
        raise
    # The leader is gone: the rest of its group goes too, which also closes the output pipe.
    await _end_group(proc.pid, grace)
    await pump
    return 128 - code if code < 0 else code


async def _end_group(pgid: int, grace: float) -> None:
    if not _signal_group(pgid, signal.SIGTERM):
        return
    deadline = asyncio.get_running_loop().time() + grace
    while asyncio.get_running_loop().time() < deadline:
        if not _group_has_live_members(pgid):
            return
        await asyncio.sleep(_GROUP_POLL_SECONDS)
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> bool:
    """Send ``sig`` to the group; False when the group no longer exists."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        # macOS reports EPERM for a group whose only member is a zombie: nothing is left to end.
        return False
    return True


def _group_has_live_members(pgid: int) -> bool:
    # Signal 0 also "reaches" zombies, and an orphan's zombie lingers when PID 1 does not reap (as in
    # many containers): on Linux, read the process table and count only members that still run.
    proc = Path("/proc")
    if not proc.is_dir():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, 0)
            return True
        return False
    return any(_live_member(stat, pgid) for stat in proc.glob("[0-9]*/stat"))


def _live_member(stat: Path, pgid: int) -> bool:
    try:
        fields = stat.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False  # exited while we looked
    state, pgrp = fields[0], int(fields[2])
    return pgrp == pgid and state not in ("Z", "X")
