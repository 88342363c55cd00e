"""Checkouts made ahead of a run's steps, while the scheduler accepts the run and schedules them.

Why: webhook -> first StepStarted was the bus hops (webhook, scheduler, runner) *plus* the clone
and checkout, one after the other, and the checkout is the floor itself. The repository, commit
and credentials are known once the PipelineRun exists (services.runner.lookahead sees it,
services.runner.prefetching decides what to fetch), so the runner starts the checkout then; by
the time StepScheduled arrives and the step is claimed, the checkout is done or under way, and
the step moves it into its workspace (a rename) instead of cloning. Later steps of the run get
one too: once a step that took a checkout has started, the next is made (at most one per step of
the config), so a step that follows another does not wait for a whole clone either.
Measured (bench/README.md): the overlap pays where a CPU is free; on a machine whose CPUs are
busy the clone shares them with the services' work for the same run and is slower than alone.

Rules (why it changes nothing a step sees, and nothing survives that should not):
- A prefetched checkout is exactly what services.runner.checkout makes for the same Source and
  credentials (the same function makes it), kept in a 0700 directory of this runner's own under
  `<home>/prefetch/`; nothing else writes there. A step takes one only when its plan and its
  prepared credentials match (prefetching.fits); on any doubt (no checkout, another Source, other
  credential values, a failed or timed-out prefetch) it clones as before, so a failed prefetch
  never fails a step: the step's own checkout gives the authoritative error.
- It is speculative and bounded: at most `limit` runs have checkouts made or waiting, one each at
  a time; a checkout not taken within `ttl` seconds (the run was rejected or cancelled, its step
  skipped, another runner claimed it, or the run ended) is removed, and so is every checkout of a
  run as soon as this runner sees its end (RunFinished, RunRejected, RunCancelled, RunTimedOut).
- Exposure: a prefetched checkout lives under the runner's home like the workspaces of running
  steps, 0700 and the runner's user's; local mode runs steps as that user (docs/security.md,
  local mode's known limit), so it is no more reachable by another run's step than those are.
  Credentials never reach it (services.runner.checkout: askpass and keys in a scratch directory).
- It has no effect beyond its directory: no event, no claim. Claims still decide who runs a
  step; a checkout taken by a step is the step's (removed with its workspace once reported).
- Kill-anywhere: each runner's directory `<home>/prefetch/<id>/` has a lock `<id>.lock` beside
  it, flock-ed for the process's life and created before the directory. At start a runner
  removes every directory whose lock is free (its owner is dead: as with claims, a free flock
  means a dead owner, whatever the pids) or gone, never a live replica's.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import structlog

from services.runner.checkout import CheckoutFailed, GitAuth, checkout, into_place
from services.runner.prefetching import Guess, fits
from services.runner.step_files import create_locked
from steps.plans import StepPlan

log = structlog.get_logger(__name__)
LOCK = ".lock"


@dataclass
class _Run:
    """One run's prefetched checkouts: the one being made or waiting, and how many may follow."""

    guess: Guess
    auth: GitAuth | None
    task: asyncio.Task[Path | None] | None
    left: int
    expiry: asyncio.TimerHandle | None = None


@dataclass
class Prefetcher:
    """This runner's prefetched checkouts (see the module docstring); `limit` 0 turns it off."""

    home: Path
    limit: int
    ttl: float
    base_env: Mapping[str, str]
    time_limit: float
    runs: dict[str, _Run] = field(default_factory=dict)
    _root: Path | None = None
    _owner_fd: int | None = None
    _removals: set[asyncio.Task[None]] = field(default_factory=set)

    def open(self) -> None:
        """Take a directory of this process's own; remove those of dead runners."""
        if self.limit <= 0 or self._root is not None:
            return
        parent = self.home / "prefetch"
        parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        self._owner_fd = create_locked(parent / f"{name}{LOCK}", b"", durable=False)
        assert self._owner_fd is not None  # a fresh uuid's name
        self._root = parent / name
        self._root.mkdir(mode=0o700)
        _remove_abandoned(parent)

    @property
    def enabled(self) -> bool:
        return self.limit > 0

    @property
    def fresh_for(self) -> timedelta:
        """How old a new PipelineRun may be to be worth a prefetch (older: a watch's first snapshot)."""
        return timedelta(seconds=self.ttl)

    def wants(self, uid: str) -> bool:
        """Whether a checkout for this run would be started now (on, not yet, below the limit)."""
        return self._root is not None and uid not in self.runs and len(self.runs) < self.limit

    def start(self, guess: Guess, auth: GitAuth | None) -> None:
        """Start checking out for a requested run (unless it has checkouts or the limit is reached)."""
        if not self.wants(guess.uid):
            return
        self.runs[guess.uid] = run = _Run(guess=guess, auth=auth, task=None, left=guess.steps)
        self._next(guess.uid, run)
        log.info("prefetch.started", uid=guess.uid, repository=guess.source.repository)

    async def take(self, plan: StepPlan, auth: GitAuth | None) -> Path | None:
        """A checkout made for this step's run that is exactly what the step would check out
        (waiting for it when under way), now the caller's; else None (the caller clones)."""
        run = self.runs.get(plan.ref.uid)
        if run is None or run.task is None:
            return None
        task, run.task = run.task, None
        if not fits(run.guess.source, plan) or run.auth != auth:
            log.info("prefetch.unfit", uid=plan.ref.uid, step=plan.ref.step)
            self._dispose(task)
            self.discard(plan.ref.uid)
            return None
        try:
            path = await asyncio.shield(task)
        except asyncio.CancelledError:
            self._dispose(task)  # the step was cancelled while waiting: nobody takes it now
            raise
        if path is None and self.runs.get(plan.ref.uid) is run:
            self.discard(plan.ref.uid)  # it failed: the next one would too
        return path

    def more(self, uid: str) -> None:
        """Make the run's next checkout (after a step took one and is off: the clone would compete
        with the step's start for the CPU), unless the run has had one per step."""
        run = self.runs.get(uid)
        if run is not None and run.task is None:
            self._next(uid, run)

    def discard(self, uid: str) -> None:
        """The run ended (or its checkouts are not wanted): remove them, made or under way."""
        run = self.runs.pop(uid, None)
        if run is None:
            return
        if run.expiry is not None:
            run.expiry.cancel()
        if run.task is not None:
            self._dispose(run.task)

    async def close(self) -> None:
        """Stop every checkout under way and remove this runner's directory."""
        for uid in list(self.runs):
            run = self.runs.pop(uid)
            if run.expiry is not None:
                run.expiry.cancel()
            if run.task is not None:
                run.task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run.task
        if self._removals:
            await asyncio.wait(set(self._removals))
        if self._root is not None:
            await asyncio.to_thread(shutil.rmtree, self._root, True)
            self._root.with_name(f"{self._root.name}{LOCK}").unlink(missing_ok=True)
        if self._owner_fd is not None:
            os.close(self._owner_fd)
        self._root, self._owner_fd = None, None

    def _next(self, uid: str, run: _Run) -> None:
        """Make the run's next checkout, if it may have one more; forget the run otherwise."""
        if run.expiry is not None:
            run.expiry.cancel()
        if run.left <= 0:
            self.runs.pop(uid, None)
            return
        run.left -= 1
        run.task = asyncio.create_task(self._fetch(run), name=f"prefetch {uid}")
        run.expiry = asyncio.get_running_loop().call_later(self.ttl, self._expired, uid, run)

    def _expired(self, uid: str, run: _Run) -> None:
        if self.runs.get(uid) is run:
            log.info("prefetch.expired", uid=uid)
            run.expiry = None
            self.discard(uid)

    async def _fetch(self, run: _Run) -> Path | None:
        """A checkout of the run's guessed source; None when it could not be made (the step then
        clones itself and gets the authoritative error, if any)."""
        assert self._root is not None
        holder: Path | None = None
        source = run.guess.source
        try:
            holder = Path(await asyncio.to_thread(tempfile.mkdtemp, dir=self._root))
            await checkout(
                source.repository,
                source.commit,
                holder / "workspace",
                auth=run.auth,
                base_env=self.base_env,
                time_limit=self.time_limit,
                fetch_ref=source.fetch_ref,
            )
        except (CheckoutFailed, OSError) as e:
            log.info("prefetch.failed", uid=run.guess.uid, error=str(e))
            if holder is not None:
                await asyncio.to_thread(shutil.rmtree, holder, True)
            return None
        except BaseException:
            if holder is not None:
                await asyncio.shield(asyncio.to_thread(shutil.rmtree, holder, True))
            raise
        return holder / "workspace"

    def _dispose(self, task: asyncio.Task[Path | None]) -> None:
        """Remove a checkout once made (or now, if made already)."""

        def made(done: asyncio.Task[Path | None]) -> None:
            if done.cancelled() or done.exception() is not None or (path := done.result()) is None:
                return
            removal = asyncio.create_task(asyncio.to_thread(shutil.rmtree, path.parent, True))
            self._removals.add(removal)
            removal.add_done_callback(self._removals.discard)

        task.add_done_callback(made)


def adopt(prefetched: Path, workspace: Path) -> None:
    """Make a taken checkout the step's workspace (a rename: same file system, under the home)."""
    workspace.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    workspace.parent.chmod(0o700)
    into_place(prefetched, workspace)
    shutil.rmtree(prefetched.parent, ignore_errors=True)


def _remove_abandoned(parent: Path) -> None:
    """Remove the directories of runners that are gone: their lock is free, or already removed
    (a runner's lock exists before its directory, and outlives it while the runner lives)."""
    for lock in parent.glob(f"*{LOCK}"):
        try:
            fd = os.open(lock, os.O_RDONLY)
        except FileNotFoundError:
            continue  # removed by another runner sweeping at the same time
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live runner's
        finally:
            os.close(fd)
        shutil.rmtree(parent / lock.name.removesuffix(LOCK), ignore_errors=True)
        lock.unlink(missing_ok=True)
    for directory in parent.iterdir():
        if directory.is_dir() and not (parent / f"{directory.name}{LOCK}").exists():
            shutil.rmtree(directory, ignore_errors=True)
