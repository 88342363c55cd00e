"""The shim: the detached parent of one step's process, so that the step outlives a runner crash.

`python -m services.runner.shim` reads a ShimSpec (JSON) on stdin (or, started ahead as a spare
with `--spare FD`, from that socket with the claim's lock: services.runner.spares), forks and
exits at once; the grandchild, in a session of its own and no longer the runner's child, becomes
a child subreaper (adapters.runtime.reaping), runs the step's command through
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
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

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
    spec = _handed(int(sys.argv[2])) if sys.argv[1:2] == ["--spare"] else _read(sys.stdin.buffer.read())
    if spec is None:
        return  # a spare the runner closed without handing it a step
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    reaping.become_subreaper()
    runner_pipe = os.dup(1)
    _redirect(spec.diagnostics)
    # Before the process, never after: a marker without a process errs towards RunnerLost, a
    # process without a marker would be started a second time (services.runner.recovery).
    # Written before the runner's pipe closes, so the runner's launch returns with it on disk.
    mark_started(StepFiles.of(spec.home, spec.ref), Started(shim_pid=os.getpid(), at=datetime.now(UTC)))
    os.close(runner_pipe)
    asyncio.run(supervise(spec))


def _read(data: bytes) -> ShimSpec:
    return msgspec.json.decode(data, type=ShimSpec)


def _handed(fd: int) -> ShimSpec | None:
    """A spare's step (services.runner.spares): the spec, and the claim's lock as the first message's
    descriptor; None at EOF with nothing handed."""
    with socket.socket(fileno=fd) as sock:
        first, fds, _, _ = socket.recv_fds(sock, 65536, 1)
        if not fds:
            return None
        data = [first]
        while chunk := sock.recv(65536):
            data.append(chunk)
    return msgspec.structs.replace(_read(b"".join(data)), lock_fd=fds[0])


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
