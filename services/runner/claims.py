"""Claiming a step, so that it runs at most once whatever is redelivered or restarted.

A claim is `<run dir>/<step>.claim`, created exclusively and whole (written under a temporary
name, locked with flock, then hard-linked into place: a second claimer's link fails). Its lock is
held by the claiming runner while it prepares the step and then by the step's shim (which inherits
the descriptor) until the step's outcome is recorded. So for a claimed step:
- an .outcome file: it ended, report it (again: Nats-Msg-Id dedupes the events);
- no outcome and the lock held: it is being prepared or running, wait for the outcome;
- no outcome and the lock free: whoever held it died first; the step is lost (RunnerLost).
flock is tied to the open file, not to a pid, so a recycled pid can never look alive.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
from datetime import datetime
from pathlib import Path

import msgspec
from msgspec import Struct

from services.runner.step_files import Outcome, StepFiles, read_outcome, record_exit, temporary_beside
from steps.plans import StepPlan

LOST = Outcome(
    exit_code=None,
    reason="RunnerLost",
    message="the step's runner or shim died before the step's outcome was recorded",
)


class Claim(Struct, frozen=True, kw_only=True):
    """Who took the step, and the plan it runs (secret references only, never values)."""

    plan: StepPlan
    runner_pid: int
    host: str
    claimed_at: datetime


def new_claim(plan: StepPlan, at: datetime) -> Claim:
    return Claim(plan=plan, runner_pid=os.getpid(), host=socket.gethostname(), claimed_at=at)


def try_claim(files: StepFiles, claim: Claim) -> int | None:
    """Claim the step; returns a descriptor holding the claim's lock, or None if already claimed."""
    files.dir.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(files.claim)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, msgspec.json.encode(claim))
        os.fsync(fd)
        os.link(tmp, files.claim)
    except FileExistsError:
        os.close(fd)
        return None
    except BaseException:
        os.close(fd)
        raise
    finally:
        tmp.unlink()
    return fd


def read_claim(path: Path) -> Claim:
    return msgspec.json.decode(path.read_bytes(), type=Claim)


def claim_alive(files: StepFiles) -> bool:
    """Whether a runner or shim still holds the claim's lock."""
    fd = os.open(files.claim, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


async def await_outcome(files: StepFiles, poll: float) -> Outcome:
    """Wait for a claimed step's outcome; record and return LOST when nobody holds it any more."""
    while True:
        if (outcome := read_outcome(files)) is not None:
            return outcome
        if not claim_alive(files):
            # The shim records the outcome before it exits and frees the lock: look once more.
            if (outcome := read_outcome(files)) is not None:
                return outcome
            record_exit(files, LOST)
            return LOST
        await asyncio.sleep(poll)


def claims_under(home: Path) -> list[Path]:
    """Every claim file in local mode's home, in a stable order."""
    return sorted(home.glob("runs/*/*/*/*.claim"))


def run_claims(files_dir: Path) -> list[Path]:
    """The claims of one run (its run directory)."""
    return sorted(files_dir.glob("*.claim"))
