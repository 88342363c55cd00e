"""What the runner does with a claimed step found on disk (services.runner.recovery, claims.settle).

Covers the pure decision for every combination of lock (taken or held by someone alive), start
marker and outcome: an outcome is reported, a live holder is awaited, a step whose process never
started is started again, a started step with no outcome is RunnerLost with a message saying it
may have run; and `settle` on real files and locks: it takes the lock over for a restart, records
RunnerLost once, announces the start before returning an outcome, and waits while a holder lives.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from api.pipelineconfig import Step
from services.runner.claims import new_claim, settle, take_over, try_claim
from services.runner.recovery import Await, Found, Report, Restart, decide, lost
from services.runner.step_files import Outcome, Started, StepFiles, mark_started, read_outcome, record_exit
from steps.plans import StepPlan, StepRef
from tests.support.runs import at

REF = StepRef(namespace="ns", run="r", uid="u", step="build", job_name="r-build")
STARTED = Started(shim_pid=4242, at=at(3))
DONE = Outcome(exit_code=4, reason="Error", message="exit code 4")


def plan() -> StepPlan:
    return StepPlan(
        ref=REF,
        step=Step(name="build", image="alpine", commands=["true"]),
        repository="git://h/r",
        commit="abcdef1",
        branch="main",
        auth_secret_ref=None,
        env={},
        secrets=[],
        timeout_seconds=60,
    )


@pytest.mark.parametrize("owned", [True, False])
@pytest.mark.parametrize("started", [None, STARTED])
def test_an_outcome_is_reported_whoever_holds_the_lock(owned: bool, started: Started | None) -> None:
    """A recorded outcome is reported as it is, started or not, lock taken or not."""
    assert decide(Found(owned=owned, started=started, outcome=DONE)) == Report(outcome=DONE)


@pytest.mark.parametrize("started", [None, STARTED])
def test_a_held_lock_without_outcome_is_awaited(started: Started | None) -> None:
    """Someone alive holds the claim (a runner checking out, a shim running): wait for it."""
    assert decide(Found(owned=False, started=started)) == Await()


def test_a_step_whose_process_never_started_is_started_again() -> None:
    """Lock free (owner dead), no start marker, no outcome: nothing ran, so run it again."""
    assert decide(Found(owned=True)) == Restart()


def test_a_started_step_without_outcome_is_runner_lost_and_says_why() -> None:
    """Lock free, start marker, no outcome: RunnerLost, with a message that it may have run."""
    verdict = decide(Found(owned=True, started=STARTED))
    assert verdict == Report(outcome=lost(STARTED))
    assert isinstance(verdict, Report)
    assert verdict.outcome.reason == "RunnerLost" and verdict.outcome.exit_code is None
    assert "4242" in verdict.outcome.message and "not run again" in verdict.outcome.message


def claimed(tmp_path: Path) -> StepFiles:
    """A claim whose owner died (its lock descriptor closed)."""
    files = StepFiles.of(tmp_path, REF)
    fd = try_claim(files, new_claim(plan(), at(0)))
    assert fd is not None
    os.close(fd)
    return files


class Announcements:
    def __init__(self) -> None:
        self.seen: list[Started] = []

    async def __call__(self, started: Started) -> None:
        self.seen.append(started)


async def test_settle_takes_over_a_claim_whose_step_never_started(tmp_path: Path) -> None:
    """settle returns the claim's lock, held, for a restart, and records no outcome."""
    files = claimed(tmp_path)
    announced = Announcements()
    fd = await settle(files, 0.01, announced)
    assert isinstance(fd, int)
    assert take_over(files) is None, "the lock is held by the one who settled"
    os.close(fd)
    assert read_outcome(files) is None and not files.exit.exists() and announced.seen == []


async def test_settle_records_runner_lost_once_for_a_started_step(tmp_path: Path) -> None:
    """A started step whose shim is gone is announced, then RunnerLost is recorded and kept."""
    files = claimed(tmp_path)
    mark_started(files, STARTED)
    announced = Announcements()
    assert await settle(files, 0.01, announced) == lost(STARTED)
    assert announced.seen == [STARTED]
    assert read_outcome(files) == lost(STARTED) and files.exit.read_text() == "\n"
    assert await settle(files, 0.01, Announcements()) == lost(STARTED)


async def test_settle_announces_a_finished_step_before_its_outcome(tmp_path: Path) -> None:
    """A step that ran and ended while nobody watched: its start is announced, its outcome returned."""
    files = claimed(tmp_path)
    mark_started(files, STARTED)
    record_exit(files, DONE)
    announced = Announcements()
    assert await settle(files, 0.01, announced) == DONE
    assert announced.seen == [STARTED]


async def test_settle_waits_while_someone_holds_the_claim(tmp_path: Path) -> None:
    """With the lock held (a live shim), settle waits; the shim's outcome is what it returns."""
    files = StepFiles.of(tmp_path, REF)
    shim_fd = try_claim(files, new_claim(plan(), at(0)))
    assert shim_fd is not None
    waiting = asyncio.create_task(settle(files, 0.01, Announcements()))
    await asyncio.sleep(0.05)  # several polls: settle must still be waiting
    assert not waiting.done()
    mark_started(files, STARTED)
    record_exit(files, DONE)
    os.close(shim_fd)
    assert await asyncio.wait_for(waiting, 5) == DONE
