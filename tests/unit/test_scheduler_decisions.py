"""The scheduler's pure decisions (services/scheduler/deciding.py) on hand-built run states.

Covers: nothing before acceptance; roots start at once, parallel where the DAG allows; a step
waits for its dependencies; DependencyFailed skips cascade in one decision; onSuccess:false
cleanup steps run after a failure; branch conditions; cancellation (cancel running, skip
waiting, finish Cancelled); the pipeline timeout; finishing waits for shipped logs up to the
grace; outcomes Succeeded/Failed with messages; repeated decisions ask for the same things.
"""

from __future__ import annotations

from datetime import timedelta

from api.pipelineconfig import Conditional, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRunSpec
from events import run as ev
from projections import run_progress as progress
from services.scheduler.deciding import CancelStep, Decision, Publish, StartStep, decide
from tests.support.runs import CONFIG, at, ident

GRACE = timedelta(seconds=30)


def step(name: str, *deps: str, branch: str | None = None, on_success: bool = True) -> Step:
    cond = Conditional(branch=branch, on_success=on_success) if branch or not on_success else None
    return Step(name=name, image="alpine", commands=["true"], depends_on=list(deps), conditional=cond)


def state(
    *steps: Step, branch: str = "main", timeout: str = "1h", events: tuple[ev.RunEvent, ...] = ()
) -> progress.RunProgress:
    spec = PipelineRunSpec(pipeline_config_ref=CONFIG, commit="abcdef1", branch=branch)
    snapshot = PipelineConfigSpec(repository="https://example.com/o/r", steps=list(steps), timeout=timeout)
    s = progress.RunProgress()
    for e in (
        ev.RunRequested(spec=spec, **ident(0)),
        ev.RunAccepted(config=CONFIG, snapshot=snapshot, **ident(1)),
        *events,
    ):
        s = progress.evolve(s, e)
    return s


def started(decisions: list[Decision]) -> list[str]:
    return [d.plan.step.name for d in decisions if isinstance(d, StartStep)]


def published(decisions: list[Decision]) -> list[ev.RunEvent]:
    return [d.event for d in decisions if isinstance(d, Publish)]


def ran(name: str, exit_code: int, second: int = 5) -> tuple[ev.RunEvent, ...]:
    return (
        ev.StepScheduled(step=name, job_name=f"j-{name}", **ident(2)),
        ev.StepStarted(step=name, **ident(3)),
        ev.StepFinished(step=name, exit_code=exit_code, **ident(second)),
        ev.LogShipped(step=name, url=f"file:///{name}.log", **ident(second)),
    )


def test_nothing_is_decided_before_acceptance() -> None:
    """A run that is only requested gets no decision."""
    s = progress.evolve(
        progress.RunProgress(),
        ev.RunRequested(spec=PipelineRunSpec(pipeline_config_ref="c", commit="abcdef1"), **ident(0)),
    )
    assert decide(s, at(1), GRACE) == []


def test_roots_start_in_parallel_and_dependents_wait() -> None:
    """Steps without dependencies start together; a dependent waits."""
    decisions = decide(state(step("lint"), step("test"), step("build", "lint", "test")), at(2), GRACE)
    assert started(decisions) == ["lint", "test"]


def test_dependent_starts_when_dependencies_succeeded() -> None:
    """Once every dependency succeeded the dependent starts, with its plan's env."""
    s = state(step("test"), step("build", "test"), events=ran("test", 0))
    [start] = decide(s, at(6), GRACE)
    assert isinstance(start, StartStep)
    assert (start.plan.step.name, start.plan.env["BRANCH"], start.plan.env["C8S_STEP"]) == (
        "build",
        "main",
        "build",
    )


def test_failure_skips_dependents_transitively_and_runs_cleanup() -> None:
    """A failed step skips its dependents and theirs in one decision, while an onSuccess:false step runs."""
    s = state(
        step("test"),
        step("build", "test"),
        step("push", "build"),
        step("cleanup", "test", on_success=False),
        events=ran("test", 1),
    )
    decisions = decide(s, at(6), GRACE)
    skipped = [(e.step, e.reason) for e in published(decisions) if isinstance(e, ev.StepSkipped)]
    assert skipped == [("build", "DependencyFailed"), ("push", "DependencyFailed")]
    assert started(decisions) == ["cleanup"]


def test_branch_condition_skips_on_other_branches() -> None:
    """A step conditioned on a branch glob is skipped on a branch that does not match."""
    s = state(step("deploy", branch="release/*"), branch="main")
    [skip] = published(decide(s, at(2), GRACE))
    assert isinstance(skip, ev.StepSkipped) and skip.reason == "BranchNotMatched"
    assert started(decide(state(step("deploy", branch="release/*"), branch="release/1.2"), at(2), GRACE)) == [
        "deploy"
    ]


def test_success_finishes_after_logs_are_shipped() -> None:
    """All steps succeeded and logs shipped: the run finishes Succeeded."""
    [finish] = published(decide(state(step("test"), events=ran("test", 0)), at(6), GRACE))
    assert isinstance(finish, ev.RunFinished)
    assert (finish.phase, finish.reason, finish.config) == ("Succeeded", "Succeeded", CONFIG)


def test_failed_step_fails_the_run_with_its_exit_code() -> None:
    """The run's message names each failed step and its exit code."""
    [finish] = published(decide(state(step("test"), events=ran("test", 3)), at(6), GRACE))
    assert isinstance(finish, ev.RunFinished)
    assert (finish.phase, finish.reason, finish.message) == (
        "Failed",
        "StepFailed",
        "failed: test (exit code 3)",
    )


def test_a_timed_out_step_that_exited_0_fails_the_run() -> None:
    """A step stopped by its timeout is failed even with exit code 0 (a TERM trap may exit 0)."""
    finished = ev.StepFinished(step="test", exit_code=0, reason="Timeout", **ident(5))
    events = (*ran("test", 0)[:2], finished, *ran("test", 0)[3:])
    [finish] = published(decide(state(step("test"), events=events), at(6), GRACE))
    assert isinstance(finish, ev.RunFinished)
    assert (finish.phase, finish.reason) == ("Failed", "StepFailed")


def test_finish_waits_for_logs_until_the_grace_passes() -> None:
    """Without LogShipped the run stays open until the grace passes, then says which log is missing."""
    s = state(step("test"), events=ran("test", 0)[:3])
    assert decide(s, at(6), GRACE) == []
    [finish] = published(decide(s, at(5) + GRACE, GRACE))
    assert isinstance(finish, ev.RunFinished) and "log not shipped for test" in finish.message


def test_cancel_cancels_running_and_skips_waiting() -> None:
    """A cancel request publishes RunCancelled, cancels running steps and skips waiting ones."""
    s = state(
        step("a"), step("b", "a"), events=(*ran("a", 0)[:2], ev.RunCancelRequested(by="alice", **ident(4)))
    )
    decisions = decide(s, at(5), GRACE)
    assert isinstance(decisions[0], Publish) and isinstance(decisions[0].event, ev.RunCancelled)
    assert [type(d).__name__ for d in decisions[1:]] == ["CancelStep", "Publish"]
    assert isinstance(decisions[1], CancelStep) and decisions[1].ref.step == "a"


def test_cancelled_run_finishes_cancelled_once_steps_settle() -> None:
    """After cancellation, the run finishes Cancelled when the cancelled step ended and its log shipped."""
    events = (
        *ran("a", 0)[:2],
        ev.RunCancelRequested(**ident(4)),
        ev.RunCancelled(**ident(4)),
        ev.StepSkipped(step="b", reason="Cancelled", **ident(4)),
        ev.StepFinished(step="a", exit_code=137, reason="Cancelled", **ident(5)),
        ev.LogShipped(step="a", url="u", **ident(5)),
    )
    [finish] = published(decide(state(step("a"), step("b", "a"), events=events), at(6), GRACE))
    assert isinstance(finish, ev.RunFinished) and finish.phase == "Cancelled"


def test_pipeline_timeout_stops_the_run() -> None:
    """Past the pipeline timeout the run is timed out; it then finishes Failed/PipelineTimeout."""
    s = state(step("a"), timeout="10s", events=ran("a", 0)[:2])
    decisions = decide(s, at(1) + timedelta(seconds=10), GRACE)
    assert isinstance(decisions[0], Publish) and isinstance(decisions[0].event, ev.RunTimedOut)
    s = progress.evolve(s, ev.RunTimedOut(timeout="10s", **ident(11)))
    for e in (
        ev.StepFinished(step="a", exit_code=None, reason="Timeout", **ident(12)),
        ev.LogShipped(step="a", url="u", **ident(12)),
    ):
        s = progress.evolve(s, e)
    [finish] = published(decide(s, at(13), GRACE))
    assert isinstance(finish, ev.RunFinished) and (finish.phase, finish.reason) == (
        "Failed",
        "PipelineTimeout",
    )


def test_decisions_repeat_on_the_same_state() -> None:
    """Deciding twice on the same state asks for the same effects (they are idempotent)."""
    s = state(step("a"), step("b"))
    assert decide(s, at(2), GRACE) == decide(s, at(2), GRACE)
    s2 = progress.evolve(s, ev.StepScheduled(step="a", job_name="j-a", **ident(2)))
    assert started(decide(s2, at(3), GRACE)) == ["b"]


def test_finished_run_decides_nothing() -> None:
    """After RunFinished nothing more is decided."""
    s = state(
        step("a"),
        events=(*ran("a", 0), ev.RunFinished(config=CONFIG, phase="Succeeded", reason="x", **ident(9))),
    )
    assert decide(s, at(99999), GRACE) == []
