"""StepLogs for local mode: follow the runner's output file of a step (steps.runner_files).

follow(ref) yields `<step>.log` from byte 0 while it grows and ends once `<step>.exit` exists and
the log has been read to its end. Invariant kept: the exit file is looked at *before* the log is
drained, so when it was there, the drain that follows read everything the step will ever write
(the runner writes `.exit` only after the last byte is in the log). A log that does not exist yet
is waited for; an exit file without a log means the step wrote nothing.

start_secrets(ref) reads every `<step>.mask` snapshot of the step's run (the values each step was
given when it started; steps.runner_files); release(ref) removes the step's raw log (called once
its LogShipped is published), release_run the run's snapshots (once the run finished).

Files are polled every `poll_seconds` (no inotify: it is not portable and the files may live on a
network filesystem); between polls the task sleeps. Reads are plain file reads of at most
`chunk_size` bytes: local files in the page cache answer in microseconds, a thread hop would cost
more than the read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO

import msgspec

from steps.plans import StepRef
from steps.runner_files import MASK_SUFFIX, run_dir, step_exit_path, step_log_path

CHUNK_SIZE = 64 * 1024


class LocalStepLogs:
    def __init__(self, home: str | Path, *, poll_seconds: float = 0.1, chunk_size: int = CHUNK_SIZE) -> None:
        self._home = Path(home)
        self._poll = poll_seconds
        self._chunk = chunk_size

    async def follow(self, ref: StepRef) -> AsyncIterator[bytes]:
        exit_path = step_exit_path(self._home, ref)
        log = await self._open(step_log_path(self._home, ref), exit_path)
        if log is None:
            return
        with log:
            while True:
                finished = _exists(exit_path)
                while chunk := log.read(self._chunk):
                    yield chunk
                if finished:
                    return
                await asyncio.sleep(self._poll)

    async def start_secrets(self, ref: StepRef) -> list[bytes]:
        values: set[bytes] = set()
        for path in run_dir(self._home, ref.namespace, ref.run, ref.uid).glob(f"*{MASK_SUFFIX}"):
            with contextlib.suppress(FileNotFoundError):
                values.update(msgspec.json.decode(path.read_bytes(), type=list[bytes]))
        return sorted(values)

    async def release(self, ref: StepRef) -> None:
        step_log_path(self._home, ref).unlink(missing_ok=True)

    async def release_run(self, namespace: str, run: str, uid: str) -> None:
        for path in run_dir(self._home, namespace, run, uid).glob(f"*{MASK_SUFFIX}"):
            path.unlink(missing_ok=True)

    async def _open(self, log_path: Path, exit_path: Path) -> BinaryIO | None:
        """The log opened for reading, once it exists; None if the step ended without one."""
        while True:
            finished = _exists(exit_path)
            log = _open_existing(log_path)
            if log is not None or finished:
                return log
            await asyncio.sleep(self._poll)


def _exists(path: Path) -> bool:
    return path.exists()


def _open_existing(path: Path) -> BinaryIO | None:
    with contextlib.suppress(FileNotFoundError):
        return path.open("rb")
    return None
