"""Local processes: start one, stream its output to a file, wait for its exit code, end its tree.

This is the executor underneath local mode (each step a subprocess of its shim) and the test node
agent (each container a subprocess); both rely on the same invariants:

- Every process leads a new session, hence its own process group, and nothing started through it
  outlives it: when the leader exits, or on ``kill()``, the whole group gets SIGTERM, then SIGKILL
  after a grace period (the way a container's PID namespace dies with its PID 1). With
  ``whole_tree=True`` (the caller is a child subreaper running only this process, see
  adapters.runtime.reaping) every descendant is ended the same way, also those that left the
  group with ``setsid``.
- stdout and stderr are merged and appended to ``log_path`` (created 0600: a step's raw output may
  hold secrets) chunk by chunk as they are produced, so a reader of the file sees output while the
  process runs and nothing is held back in memory; each chunk is also handed to ``on_output``
  (e.g. to timestamp it or wake a follower) after it is written. At most ``max_log_bytes`` are
  written; then one line TRUNCATED_MARKER and the rest of the output is read and dropped.
- ``wait()`` returns the exit status the way a shell or Kubernetes reports it: the exit code, or
  128 + N when the process was ended by signal N. It returns once the tree is ended and the
  output pipe drained, but never waits on the pipe for more than DRAIN_SECONDS after that: a
  process outside the tree that still holds its write end (handed over a socket, say) cannot hold
  the step's end hostage; what it writes later is lost.
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

from adapters.runtime import reaping

DEFAULT_GRACE_SECONDS = 5.0
_CHUNK = 64 * 1024
_GROUP_POLL_SECONDS = 0.05
#: How long the output pipe is read after the process tree ended, at most.
DRAIN_SECONDS = 2.0
#: What the log gets, on a line of its own, where output beyond max_log_bytes was dropped.
TRUNCATED_MARKER = b"[c8s] log truncated: the output exceeded %d bytes; the rest was dropped\n"

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
    _whole_tree: bool = field(default=False, repr=False)

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
            await _end(self.pid, grace, self._whole_tree)
        return await self.wait()


async def start(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_path: Path,
    on_output: OutputCallback | None = None,
    grace: float = DEFAULT_GRACE_SECONDS,
    whole_tree: bool = False,
    max_log_bytes: int | None = None,
) -> RunningProcess:
    """Start ``argv`` in its own session with exactly ``env``, appending its output to ``log_path``."""
    if not argv:
        raise ProcessStartError("empty argv")
    log = _Log(_open_log(log_path), max_log_bytes, on_output)
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
        log.file.close()
        raise ProcessStartError(f"cannot start {argv[0]!r} in {cwd}: {e}") from e
    finally:
        os.close(write_fd)
    reader = asyncio.StreamReader()
    transport, _ = await asyncio.get_running_loop().connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(read_fd, "rb", buffering=0)
    )
    pump = asyncio.create_task(_pump(reader, log))
    done = asyncio.create_task(_supervise(proc, pump, transport, grace, whole_tree))
    return RunningProcess(
        pid=proc.pid, log_path=log_path, _proc=proc, _pump=pump, _done=done, _whole_tree=whole_tree
    )


def _open_log(log_path: Path) -> BinaryIO:
    # Unbuffered append: a follower reading the file sees each chunk as soon as on_output fires.
    log_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    return os.fdopen(fd, "ab", buffering=0)


class _Log:
    """The log file, written up to a size limit, then one marker line, then nothing."""

    def __init__(self, file: BinaryIO, limit: int | None, on_output: OutputCallback | None) -> None:
        self.file, self._limit, self._on_output = file, limit, on_output
        self._written, self._truncated, self._line_ended = 0, False, True

    def write(self, chunk: bytes) -> None:
        if self._limit is not None:
            chunk = self._bounded(chunk, self._limit)
        if not chunk:
            return
        self.file.write(chunk)
        self._written += len(chunk)
        self._line_ended = chunk.endswith(b"\n")
        if self._on_output is not None:
            self._on_output(chunk)

    def _bounded(self, chunk: bytes, limit: int) -> bytes:
        left = limit - self._written
        if self._truncated or len(chunk) <= left:
            return b"" if self._truncated else chunk
        self._truncated = True
        kept = chunk[: max(left, 0)]
        ended = kept.endswith(b"\n") if kept else self._line_ended
        return kept + (b"" if ended else b"\n") + TRUNCATED_MARKER % limit


async def _pump(stream: asyncio.StreamReader, log: _Log) -> None:
    with log.file:
        while chunk := await stream.read(_CHUNK):
            log.write(chunk)


async def _supervise(
    proc: asyncio.subprocess.Process,
    pump: asyncio.Task[None],
    pipe: asyncio.BaseTransport,
    grace: float,
    whole_tree: bool,
) -> int:
    try:
        code = await proc.wait()
    except asyncio.CancelledError:
        await _end(proc.pid, 0.0, whole_tree)
        raise
    # The leader is gone: the rest of its group (or tree) goes too, which also closes the pipe.
    await _end(proc.pid, grace, whole_tree)
    await _drained(pump, pipe)
    return 128 - code if code < 0 else code


async def _drained(pump: asyncio.Task[None], pipe: asyncio.BaseTransport) -> None:
    """Let the pump read to the pipe's end, for DRAIN_SECONDS at most, then close the pipe."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(asyncio.shield(pump), DRAIN_SECONDS)
    if not pump.done():
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pump
    pipe.close()


async def _end(pid: int, grace: float, whole_tree: bool) -> None:
    if not whole_tree:
        await _end_group(pid, grace)
        return
    _signal_group(pid, signal.SIGTERM)
    await reaping.end_descendants(grace, keep=pid)


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
