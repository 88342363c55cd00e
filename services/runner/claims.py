"""Claiming a step, so that it runs at most once whatever is redelivered or restarted.

A claim is `<run dir>/<step>.claim`, created exclusively and whole (written under a temporary
name, locked with flock, then hard-linked into place: a second claimer's link fails). Its lock is
held by the claiming runner while it prepares the step and then by the step's shim (which inherits
the descriptor) until the step's outcome is recorded. flock is tied to the open file, not to a
pid, so a recycled pid can never look alive, and a free lock means the owner is known dead.

`settle` watches a claimed step until there is something to do, as services.runner.recovery
decides from the files (woken when the shim named by the start marker exits, adapters.runtime.exits,
else after the poll interval): report an outcome (the shim's, or RunnerLost for a step whose process
started and whose shim died), or start the step again under the lock it took over (the step's
process never started). Taking the lock before reading the files is what makes the decision safe:
once taken, nobody else can start, run or finish the step behind the taker's back.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import msgspec
from msgspec import Struct

from adapters.runtime.exits import exited
from services.runner.recovery import Await, Found, Report, Restart, decide
from services.runner.step_files import (
    Outcome,
    Started,
    StepFiles,
    create_locked,
    read_outcome,
    read_started,
    record_exit,
)
from steps.plans import StepPlan

OnStarted = Callable[[Started], Awaitable[None]]


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
    return create_locked(files.claim, msgspec.json.encode(claim), durable=True)


def read_claim(path: Path) -> Claim:
    return msgspec.json.decode(path.read_bytes(), type=Claim)


def take_over(files: StepFiles) -> int | None:
    """The claim's lock, when nobody holds it any more (a descriptor holding it); else None."""
    fd = os.open(files.claim, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def claim_alive(files: StepFiles) -> bool:
    """Whether a runner or shim still holds the claim's lock."""
    fd = take_over(files)
    if fd is None:
        return True
    os.close(fd)
    return False


def look(files: StepFiles) -> tuple[Found, int | None]:
    """The step as found on disk, after trying to take its lock (the descriptor, when taken)."""
    fd = take_over(files)
    found = Found(owned=fd is not None, started=read_started(files), outcome=read_outcome(files))
    return found, fd


async def settle(files: StepFiles, poll: float, on_started: OnStarted) -> Outcome | int:
    """Wait until the claimed step needs something done: its Outcome to report (recorded first),
    or a descriptor holding its lock when it must be started again. `on_started` is awaited once,
    as soon as the start marker is seen (before the outcome is returned)."""
    announced = False
    while True:
        found, fd = look(files)
        if found.started is not None and not announced:
            try:
                await on_started(found.started)
            except BaseException:
                if fd is not None:  # not left holding the lock when cancelled or failing
                    os.close(fd)
                raise
            announced = True
        match decide(found):
            case Restart():
                assert fd is not None
                return fd
            case Report(outcome=outcome):
                _record_if_new(files, outcome, found)
                if fd is not None:
                    os.close(fd)
                return outcome
            case Await():
                await _woken(found.started, poll)


async def _woken(started: Started | None, poll: float) -> None:
    """Until the step's shim exits (the usual end: its outcome is then on disk), `poll` at most."""
    if started is None:
        await asyncio.sleep(poll)
    else:
        await exited(started.shim_pid, poll)


def _record_if_new(files: StepFiles, outcome: Outcome, found: Found) -> None:
    if found.outcome is None:
        record_exit(files, outcome)


def claims_under(home: Path) -> list[Path]:
    """Every claim file in local mode's home, in a stable order."""
    return sorted(home.glob("runs/*/*/*/*.claim"))


def run_claims(files_dir: Path) -> list[Path]:
    """The claims of one run (its run directory)."""
    return sorted(files_dir.glob("*.claim"))
