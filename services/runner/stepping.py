"""The life of one claimed step: prepare, check out, start under its shim, await, report.

A step reaches exactly one Outcome, recorded in `<step>.outcome` before anything is reported, so a
restarted runner reports the same outcome: StepStarted once the shim's start marker exists (the
process is about to run: never before, so a step that never ran has no StepStarted and no log),
ArtifactUploaded per uploaded file, then StepFinished; `<step>.reported` ends the runner's work on
it. Outcomes without a process (exit code None): SecretNotFound, CheckoutFailed, Cancelled/Timeout
before the start, Error when the shim could not start, RunnerLost (services.runner.recovery).
A step found claimed but never started, its owner dead, is handed back (`resume` returns the lock
it took over) to be prepared and run again.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import structlog

from events.codec import AnyEvent
from events.run import ArtifactUploaded, RunIdentity, StepFinished, StepStarted
from ports.bus import Bus, run_events, run_history
from ports.bus_errors import BusUnavailable
from ports.objects import ObjectStore
from services.runner.artifacts import Uploaded, upload_all
from services.runner.checkout import CheckoutFailed, GitAuth, checkout
from services.runner.claims import OnStarted, settle
from services.runner.launching import ShimFailed, command_argv, step_environment
from services.runner.prefetch import Prefetcher, adopt
from services.runner.shim import ShimSpec
from services.runner.spares import Launcher
from services.runner.step_files import (
    Outcome,
    Started,
    StepFiles,
    discard_step_dir,
    read_stop,
    record_exit,
    write_mask_snapshot,
)
from steps.plans import StepPlan, StepRef

log = structlog.get_logger(__name__)
_MAX_BACKOFF = 5.0


@dataclass(frozen=True, kw_only=True)
class StepDeps:
    """What every step of this runner shares."""

    bus: Bus
    objects: ObjectStore
    home: Path
    grace_seconds: float
    poll_seconds: float
    checkout_timeout_seconds: float
    base_env: Mapping[str, str]
    launcher: Launcher
    prefetcher: Prefetcher


@dataclass(frozen=True, kw_only=True)
class Prepared:
    """A step's plan with the secret values it needs, or the reason it cannot be configured."""

    plan: StepPlan
    secrets: dict[str, str]
    auth: GitAuth | None
    problem: Outcome | None = None


async def run_claimed(deps: StepDeps, prepared: Prepared, lock_fd: int) -> None:
    """Run a step this runner holds the claim of (lock_fd holds its lock until the shim has it)."""
    files = StepFiles.of(deps.home, prepared.plan.ref)
    try:
        outcome = await _start(deps, files, prepared, lock_fd)
    finally:
        os.close(lock_fd)
    if outcome is None:
        settled = await settle(files, deps.poll_seconds, _announcer(deps, prepared.plan, check_history=False))
        outcome = _shim_never_started(files, settled) if isinstance(settled, int) else settled
    await report(deps, files, prepared.plan, outcome)


async def resume(deps: StepDeps, plan: StepPlan) -> int | None:
    """Re-attach to a step claimed earlier (by this runner before a restart, or by another) and
    report it; or, when its process never started and its owner is dead, the descriptor of the
    claim's lock, taken over, with which the caller starts it again."""
    files = StepFiles.of(deps.home, plan.ref)
    if files.reported.exists():
        return None
    settled = await settle(files, deps.poll_seconds, _announcer(deps, plan, check_history=True))
    if isinstance(settled, int):
        return settled
    await report(deps, files, plan, settled)
    return None


def _announcer(deps: StepDeps, plan: StepPlan, check_history: bool) -> OnStarted:
    """Publishes StepStarted at the shim's start time. With `check_history` (a step found on disk,
    whose StepStarted an earlier runner may have published before the stream's dedupe window),
    only when the run's history does not hold it yet."""

    async def announce(started: Started) -> None:
        if check_history and await _started_published(deps.bus, plan.ref):
            return
        event = StepStarted(job_name=plan.ref.job_name, step=plan.ref.step, **identity(plan.ref, started.at))
        await publish(deps.bus, event)

    return announce


async def _started_published(bus: Bus, ref: StepRef) -> bool:
    history = run_events(await run_history(bus, ref.namespace, ref.run, ref.uid))
    return any(isinstance(e, StepStarted) and e.step == ref.step for e in history)


def _shim_never_started(files: StepFiles, lock_fd: int) -> Outcome:
    """This runner's own shim exited without starting the step (its lock is free, no marker)."""
    try:
        message = f"the step's shim exited before starting the step (see {files.step_dir / 'shim.out'})"
        return _recorded(files, Outcome(exit_code=None, reason="Error", message=message))
    finally:
        os.close(lock_fd)


async def _start(deps: StepDeps, files: StepFiles, prepared: Prepared, lock_fd: int) -> Outcome | None:
    """Hand the step to its shim; its Outcome instead when it ends before that."""
    if prepared.problem is not None:
        return _recorded(files, prepared.problem)
    plan = prepared.plan
    log.info("step.image_ignored", image=plan.step.image, note="local mode runs steps on this machine")
    # Before the checkout, not after: with a prefetched checkout the step waits for the clone
    # here, and these writes (the mask flushed to disk) are then off its critical path.
    write_mask_snapshot(files, prepared.secrets, prepared.auth)
    _fresh_home(files)
    try:
        await _check_out(deps, files, prepared)
    except CheckoutFailed as e:
        return _recorded(files, Outcome(exit_code=None, reason="CheckoutFailed", message=str(e)))
    if (stop := read_stop(files.stop)) is not None:
        return _recorded(files, Outcome(exit_code=None, reason=stop.reason, message=stop.message))
    try:
        await deps.launcher.launch(_shim_spec(deps, files, prepared, lock_fd))
    except ShimFailed as e:
        return _recorded(files, Outcome(exit_code=None, reason="Error", message=str(e)))
    log.info("step.launched", run=plan.ref.run, step=plan.ref.step)
    deps.prefetcher.more(plan.ref.uid)
    return None


async def _check_out(deps: StepDeps, files: StepFiles, prepared: Prepared) -> None:
    """The step's fresh checkout: the one prefetched for it when it fits, else a clone now."""
    plan = prepared.plan
    prefetched = await deps.prefetcher.take(plan, prepared.auth)
    if prefetched is not None:
        adopt(prefetched, files.workspace)
        log.info("step.checkout_prefetched", run=plan.ref.run, step=plan.ref.step)
        return
    await checkout(
        plan.repository,
        plan.commit,
        files.workspace,
        auth=prepared.auth,
        base_env=deps.base_env,
        time_limit=deps.checkout_timeout_seconds,
        fetch_ref=plan.fetch_ref,
    )


def _fresh_home(files: StepFiles) -> None:
    """The step's HOME, empty (a step started again after a restart gets a new one)."""
    files.step_dir.mkdir(mode=0o700, parents=True, exist_ok=True)  # the workspace's parent too
    shutil.rmtree(files.step_home, ignore_errors=True)
    files.step_home.mkdir()


def _shim_spec(deps: StepDeps, files: StepFiles, prepared: Prepared, lock_fd: int) -> ShimSpec:
    plan = prepared.plan
    return ShimSpec(
        ref=plan.ref,
        home=str(deps.home),
        argv=command_argv(plan.step.commands),
        env=step_environment(plan, prepared.secrets, files.step_home, deps.base_env),
        cwd=str(files.workspace),
        lock_fd=lock_fd,
        timeout_seconds=float(plan.timeout_seconds),
        grace_seconds=deps.grace_seconds,
        diagnostics=str(files.step_dir / "shim.out"),
    )


def _recorded(files: StepFiles, outcome: Outcome) -> Outcome:
    record_exit(files, outcome)
    return outcome


async def report(deps: StepDeps, files: StepFiles, plan: StepPlan, outcome: Outcome) -> None:
    """Upload the artifacts of a step that ran, publish StepFinished, mark the step reported."""
    if files.reported.exists():
        return
    failed: list[str] = []
    if outcome.exit_code is not None:
        failed = await upload_all(
            deps.objects, plan.ref, files.workspace, plan.step.artifacts, _artifact_publisher(deps, plan.ref)
        )
    message = outcome.message
    if failed:
        message = f"{message}; artifacts not uploaded: {', '.join(failed)}".lstrip("; ")
    finished = StepFinished(
        exit_code=outcome.exit_code,
        reason=outcome.reason,
        message=message,
        step=plan.ref.step,
        **identity(plan.ref),
    )
    await publish(deps.bus, finished)
    files.reported.touch()
    discard_step_dir(files)
    log.info(
        "step.finished",
        step=plan.ref.step,
        run=plan.ref.run,
        exit_code=outcome.exit_code,
        reason=outcome.reason,
    )


def _artifact_publisher(deps: StepDeps, ref: StepRef) -> Uploaded:
    async def uploaded(path: str, url: str, size: int) -> None:
        event = ArtifactUploaded(url=url, path=path, bytes=size, step=ref.step, **identity(ref))
        await publish(deps.bus, event)

    return uploaded


def identity(ref: StepRef, at: datetime | None = None) -> RunIdentity:
    return RunIdentity(namespace=ref.namespace, run=ref.run, uid=ref.uid, at=at or datetime.now(UTC))


async def publish(bus: Bus, event: AnyEvent) -> None:
    """Publish, waiting out bus outages (the fact must not be lost; its Msg-Id dedupes repeats)."""
    delay = 0.1
    while True:
        try:
            await bus.publish(event)
            return
        except BusUnavailable as e:
            log.warning("runner.publish_retry", error=str(e), retry_in=delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF)
