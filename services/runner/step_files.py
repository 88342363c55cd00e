"""The files the runner keeps for one step, beside the log and exit code of steps.runner_files.

    <run dir>/<step>.claim      who took the step, with its plan; flock-ed while a runner or its
                                shim works on it (services.runner.claims)
    <run dir>/<step>.started    the shim's start marker (its pid, the time), written before the
                                step's process is started: without it, the process never ran
    <run dir>/<step>.stop       a request to stop the step (Cancelled or Timeout); the first wins
    <run dir>/<step>.outcome    how the step ended: exit code, reason, message
    <run dir>/<step>.exit       the exit code (local_layout's protocol, read by the log-shipper)
    <run dir>/<step>.mask       the secret values the step was given (for the log-shipper's masker)
    <run dir>/<step>.reported   StepFinished is published: nothing is left to do
    <run dir>/<step>/workspace  the fresh checkout the commands run in
    <run dir>/<step>/home       the step's HOME (step_home)

Invariant: every file except the log appears whole or not at all (written under a temporary name,
then renamed or linked into place); .started is written before the log is created, and .outcome
before .exit, so whoever sees .exit also finds .outcome.

Who removes what: `<run dir>/<step>/` (0700: workspace, home, the shim's diagnostics) is the
runner's, removed once the step is reported (artifacts uploaded, StepFinished published). The log
(0600) is the log-shipper's to remove, once its LogShipped is published (adapters.local.steplogs
`release`); the runner never deletes it, so no log is lost before it is shipped. The small
bookkeeping files (.claim, .started, .outcome, .exit, .reported, .stop) stay: they hold no secret
and they are how a restarted runner or shipper knows the step is done.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import msgspec
from msgspec import Struct

from services.runner.checkout import GitAuth
from steps.plans import StepRef
from steps.runner_files import run_dir, step_exit_path, step_log_path, step_mask_path

_tmp_names = itertools.count()


class Outcome(Struct, frozen=True, kw_only=True):
    """How a step ended. exit_code is None when its commands never ran."""

    exit_code: int | None
    reason: str
    message: str = ""


class Started(Struct, frozen=True, kw_only=True):
    """The shim's start marker: from this moment on the step's process may have run."""

    shim_pid: int
    at: datetime


class StopRequest(Struct, frozen=True, kw_only=True):
    """Why a step must stop early: reason Cancelled or Timeout."""

    reason: str
    message: str = ""


@dataclass(frozen=True)
class StepFiles:
    ref: StepRef
    home: Path

    @classmethod
    def of(cls, home: str | Path, ref: StepRef) -> StepFiles:
        return cls(ref=ref, home=Path(home))

    @property
    def dir(self) -> Path:
        return run_dir(self.home, self.ref.namespace, self.ref.run, self.ref.uid)

    def _sibling(self, suffix: str) -> Path:
        return self.dir / f"{self.ref.step}.{suffix}"

    @property
    def claim(self) -> Path:
        return self._sibling("claim")

    @property
    def stop(self) -> Path:
        return self._sibling("stop")

    @property
    def started(self) -> Path:
        return self._sibling("started")

    @property
    def outcome(self) -> Path:
        return self._sibling("outcome")

    @property
    def reported(self) -> Path:
        return self._sibling("reported")

    @property
    def log(self) -> Path:
        return step_log_path(self.home, self.ref)

    @property
    def mask(self) -> Path:
        return step_mask_path(self.home, self.ref)

    @property
    def exit(self) -> Path:
        return step_exit_path(self.home, self.ref)

    @property
    def step_dir(self) -> Path:
        return self.dir / self.ref.step

    @property
    def workspace(self) -> Path:
        return self.step_dir / "workspace"

    @property
    def step_home(self) -> Path:
        return self.step_dir / "home"


def temporary_beside(path: Path) -> Path:
    """A unique name in the same directory (so rename and link stay on one file system)."""
    return path.with_name(f".{path.name}.{os.getpid()}.{next(_tmp_names)}.tmp")


def write_atomic(path: Path, data: bytes) -> None:
    """Write the whole file (0600) under a temporary name, flush it to disk, rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(path)
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def create_locked(path: Path, data: bytes, *, durable: bool) -> int | None:
    """Create the file whole and already flock-ed (written aside, locked, flushed to disk when
    `durable`, then hard-linked into place: nobody sees it unlocked or partial); the descriptor
    holding the lock, or None when the file exists."""
    tmp = temporary_beside(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, data)
        if durable:
            os.fsync(fd)
        os.link(tmp, path)
    except FileExistsError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    finally:
        tmp.unlink()
    return fd


def create_exclusive(path: Path, data: bytes) -> bool:
    """Create the file whole, unless it exists; True when this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(path)
    tmp.write_bytes(data)
    try:
        os.link(tmp, path)
    except FileExistsError:
        return False
    finally:
        tmp.unlink()
    return True


def write_outcome(files: StepFiles, outcome: Outcome) -> None:
    write_atomic(files.outcome, msgspec.json.encode(outcome))


def record_exit(files: StepFiles, outcome: Outcome) -> None:
    """The outcome, then the exit code file: the step's output is complete from here on.

    The exit file is written for every outcome (empty when the commands never ran), because it
    is what tells the log-shipper that the log has ended."""
    write_outcome(files, outcome)
    code = "" if outcome.exit_code is None else str(outcome.exit_code)
    write_atomic(files.exit, f"{code}\n".encode())


def read_outcome(files: StepFiles) -> Outcome | None:
    with contextlib.suppress(FileNotFoundError):
        return msgspec.json.decode(files.outcome.read_bytes(), type=Outcome)
    return None


def mark_started(files: StepFiles, started: Started) -> None:
    write_atomic(files.started, msgspec.json.encode(started))


def read_started(files: StepFiles) -> Started | None:
    with contextlib.suppress(FileNotFoundError):
        return msgspec.json.decode(files.started.read_bytes(), type=Started)
    return None


def request_stop(files: StepFiles, request: StopRequest) -> bool:
    """Ask the step's shim to stop it; False when a stop was already requested."""
    return create_exclusive(files.stop, msgspec.json.encode(request))


def read_stop(path: Path) -> StopRequest | None:
    with contextlib.suppress(FileNotFoundError):
        return msgspec.json.decode(path.read_bytes(), type=StopRequest)
    return None


def write_mask_snapshot(files: StepFiles, secrets: Mapping[str, str], auth: GitAuth | None) -> None:
    """Record the secret values handed to the step, before StepStarted (the shipper masks them)."""
    git = [auth.password, auth.ssh_key] if auth is not None else []  # not username: no secret
    values = [*secrets.values(), *(v for v in git if v)]
    write_atomic(files.mask, msgspec.json.encode(sorted({v.encode() for v in values if v})))


def discard_step_dir(files: StepFiles) -> None:
    """Remove the step's workspace and home (once it is reported: nothing reads them any more)."""
    shutil.rmtree(files.step_dir, ignore_errors=True)
