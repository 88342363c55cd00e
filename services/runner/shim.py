"""The shim: the detached parent of one step's process, so that the step outlives a runner crash.

`python -m services.runner.shim` reads a ShimSpec (JSON) on stdin, forks and exits at once; the
grandchild, in a session of its own and no longer the runner's child, becomes a child subreaper
(adapters.runtime.reaping), runs the step's command through
adapters.runtime.processes (its own process group, merged output appended to the step log, 0600,
at most `max_log_bytes`) and records the outcome, then the exit code (step_files.record_exit)
once all output is in the log.
Before it starts the process, the shim writes the start marker `<step>.started`, and before it
lets go of the runner's pipe (so the runner's launch returns with the marker on disk): the runner
publishes StepStarted only once it is there, and then waits for this shim's pid to exit.
While the step runs, the shim ends the step's whole tree (SIGTERM, SIGKILL after the grace period)
- when the step's timeout has passed (reason Timeout), counted from the shim's start;
- when a stop request file appears (its reason: Cancelled or Timeout, written by a runner);
- on SIGTERM (reason Cancelled).
A step that ends by itself has its tree ended too (a `setsid cmd &` left behind gets SIGTERM, then
SIGKILL). Because the shim is a subreaper running only this step, every process the step started,
in whatever session, is one of its descendants: when the outcome is recorded (hence before the
runner can publish StepFinished), none of them is alive. A step stopped for a timeout or a cancel
keeps that reason whatever its exit code (StepFinished.succeeded is False for those reasons).
The shim inherits the claim's locked file descriptor and never closes it: the lock is free exactly
when no shim (and no runner preparing the step) works on the step, which is how a restarted runner
tells a live step from a lost one without trusting pids.
Started with `--spare FD` (services.runner.spares), the module is a *spare*: it waits on that
socket and forks one shim per step handed to it (the fork has the imports done; setsid, subreaper,
start marker and supervision are the same code), the fork's child being the step's shim.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import struct
import sys
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import msgspec
from msgspec import Struct

from adapters.runtime import processes, reaping
from services.runner.step_files import (
    Outcome,
    Started,
    StepFiles,
    StopRequest,
    mark_started,
    read_stop,
    record_exit,
)
from steps.plans import StepRef
from steps.runner_files import RAW_LOG_LIMIT

#: A request's length prefix (services.runner.spares writes it).
LENGTH = struct.Struct("!Q")


class ShimSpec(Struct, frozen=True, kw_only=True):
    """What the runner hands the shim on stdin (the environment may hold secret values)."""

    ref: StepRef
    home: str
    argv: list[str]
    env: dict[str, str]
    cwd: str
    lock_fd: int
    timeout_seconds: float
    grace_seconds: float
    poll_seconds: float = 0.1
    #: The raw log's size limit (None: unlimited); beyond it a marker line, then nothing.
    max_log_bytes: int | None = RAW_LOG_LIMIT
    #: Where the shim's own messages (not the step's output) go.
    diagnostics: str


def main() -> None:
    if sys.argv[1:2] == ["--spare"]:
        _serve_spare(int(sys.argv[2]))
        return
    spec = _read(sys.stdin.buffer.read())
    if os.fork() > 0:
        os._exit(0)
    _run_step(spec, runner_pipe=os.dup(1))


def _run_step(spec: ShimSpec, runner_pipe: int) -> None:
    """In the process that becomes the step's shim: detach, mark the start, supervise the step.
    `runner_pipe` is what the runner waits on: closed once the start marker is on disk."""
    os.setsid()
    reaping.become_subreaper()
    _redirect(spec.diagnostics)
    # Before the process, never after: a marker without a process errs towards RunnerLost, a
    # process without a marker would be started a second time (services.runner.recovery).
    # Written before the runner's pipe closes, so the runner's launch returns with it on disk.
    mark_started(StepFiles.of(spec.home, spec.ref), Started(shim_pid=os.getpid(), at=datetime.now(UTC)))
    os.close(runner_pipe)
    asyncio.run(supervise(spec))


def _read(data: bytes) -> ShimSpec:
    return msgspec.json.decode(data, type=ShimSpec)


def _serve_spare(fd: int) -> None:
    """A spare (services.runner.spares): imports done, it forks one shim per step it is handed,
    until the runner closes the socket. Each request is an 8-byte length, then the spec; its first
    bytes carry two descriptors: the claim's lock and the step's `done` socket (closed by the shim
    once the start marker is on disk). Forked shims are reaped by the kernel (SIGCHLD ignored
    here; reset in each shim, which must wait for its step's process)."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    with socket.socket(fileno=fd) as sock:
        while (request := _next_request(sock)) is not None:
            spec, done = request
            if os.fork() == 0:
                _forked_shim(sock, spec, done)
            os.close(spec.lock_fd)
            os.close(done)


def _forked_shim(sock: socket.socket, spec: ShimSpec, done: int) -> NoReturn:
    """The child of a spare: this step's shim, as a shim started for it would be."""
    code = 0
    try:
        sock.close()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _run_step(spec, runner_pipe=done)
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _next_request(sock: socket.socket) -> tuple[ShimSpec, int] | None:
    """The next step handed over (its spec with the lock's descriptor, and the `done` descriptor);
    None at EOF, or when the runner stopped in the middle of one (nothing is started then)."""
    head, fds, _, _ = socket.recv_fds(sock, LENGTH.size, 2)
    try:
        if len(fds) != 2:
            raise EOFError
        head += _exactly(sock, LENGTH.size - len(head))
        body = _exactly(sock, LENGTH.unpack(head)[0])
    except EOFError:
        for extra in fds:
            os.close(extra)
        return None
    lock_fd, done = fds
    return msgspec.structs.replace(_read(body), lock_fd=lock_fd), done


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks, left = [], size
    while left > 0:
        chunk = sock.recv(min(left, 65536))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _redirect(diagnostics: str) -> None:
    """Let go of the runner's pipes, so the runner sees its child's output end now."""
    out = os.open(diagnostics, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)


async def supervise(spec: ShimSpec) -> None:
    files = StepFiles.of(spec.home, spec.ref)
    try:
        proc = await processes.start(
            spec.argv,
            env=spec.env,
            cwd=Path(spec.cwd),
            log_path=files.log,
            grace=spec.grace_seconds,
            whole_tree=True,
            max_log_bytes=spec.max_log_bytes,
        )
    except processes.ProcessStartError as e:
        record_exit(files, Outcome(exit_code=127, reason="Error", message=str(e)))
        return
    stop = await _watch(proc, spec, files)
    code = await proc.kill(spec.grace_seconds) if stop else await proc.wait()
    record_exit(files, outcome(code, stop))


async def _watch(proc: processes.RunningProcess, spec: ShimSpec, files: StepFiles) -> StopRequest | None:
    """Wait for the process to end by itself (None) or for a reason to stop it."""
    loop = asyncio.get_running_loop()
    terminated = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, terminated.set)
    deadline = loop.time() + spec.timeout_seconds
    while proc.returncode is None:
        if request := read_stop(files.stop):
            return request
        if terminated.is_set():
            return StopRequest(reason="Cancelled", message="the step's shim was terminated")
        remaining = deadline - loop.time()
        if remaining <= 0:
            return StopRequest(
                reason="Timeout", message=f"step exceeded its timeout of {spec.timeout_seconds:g}s"
            )
        try:
            await asyncio.wait_for(proc.wait(), min(spec.poll_seconds, remaining))
        except TimeoutError:
            continue
    return None


def outcome(code: int, stop: StopRequest | None) -> Outcome:
    if stop is not None:
        return Outcome(exit_code=code, reason=stop.reason, message=stop.message)
    if code == 0:
        return Outcome(exit_code=0, reason="Completed")
    return Outcome(exit_code=code, reason="Error", message=f"exit code {code}")


if __name__ == "__main__":
    main()
