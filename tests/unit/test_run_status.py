"""The PipelineRun status fold on hand-written histories.

Covers: phases through a whole run (Pending, Running, Succeeded/Failed/Cancelled), rejection, the
Succeeded condition and its transition times, step fields (jobName, times, exitCode, reason,
logURL, artifactURLs), settling of open steps when a run ends, terminal immutability, sequence
idempotency, events for unknown steps, and that the fold never mutates its input.
"""

from __future__ import annotations

import copy

from events import run as ev
from projections import run_status
from tests.support.runs import CONFIG, accepted, at, ident, requested


def fold(*events: ev.RunEvent) -> run_status.Status:
    return run_status.fold(enumerate(events, start=1))


def step(status: run_status.Status, name: str) -> object:
    return next(s for s in status.steps if s.name == name)


def test_new_run_is_pending_with_unknown_condition() -> None:
    """A requested run is Pending and its Succeeded condition is Unknown/Pending."""
    status = fold(requested())
    assert status.phase == "Pending"
    assert [(c.type, c.status, c.reason) for c in status.conditions] == [("Succeeded", "Unknown", "Pending")]
    assert status.observed_sequence == 1


def test_accepted_run_lists_every_step_pending() -> None:
    """Accepting a run lists its snapshot's steps, all Pending, in config order."""
    status = fold(requested(), accepted("test", "build"))
    assert [(s.name, s.phase) for s in status.steps] == [("test", "Pending"), ("build", "Pending")]


def test_scheduling_a_step_makes_the_run_running() -> None:
    """The first scheduled step moves the run to Running with startTime from the event."""
    status = fold(requested(), accepted("test"), ev.StepScheduled(step="test", job_name="j-test", **ident(5)))
    assert status.phase == "Running"
    assert status.start_time == at(5)
    assert status.steps[0].job_name == "j-test"
    assert status.steps[0].phase == "Pending"


def test_successful_run() -> None:
    """A run whose steps all exit 0 ends Succeeded with condition True and every step field set."""
    status = fold(
        requested(),
        accepted("test"),
        ev.StepScheduled(step="test", job_name="j", **ident(2)),
        ev.StepStarted(step="test", job_name="j", **ident(3)),
        ev.StepFinished(step="test", exit_code=0, reason="Completed", **ident(9)),
        ev.LogShipped(step="test", url="s3://logs/test.log", bytes=10, **ident(10)),
        ev.ArtifactUploaded(step="test", url="s3://a/app", path="app", **ident(10)),
        ev.RunFinished(config=CONFIG, phase="Succeeded", reason="AllStepsSucceeded", **ident(11)),
    )
    s = status.steps[0]
    assert (status.phase, status.start_time, status.completion_time) == ("Succeeded", at(2), at(11))
    assert (s.phase, s.start_time, s.completion_time, s.exit_code) == ("Succeeded", at(3), at(9), 0)
    assert (s.log_url, s.artifact_urls) == ("s3://logs/test.log", ["s3://a/app"])
    cond = status.conditions[0]
    assert (cond.status, cond.reason, cond.last_transition_time) == ("True", "AllStepsSucceeded", at(11))


def test_failed_step_records_exit_code_and_reason() -> None:
    """A step exiting non-zero is Failed with its exit code and reason."""
    status = fold(
        requested(),
        accepted("test"),
        ev.StepStarted(step="test", **ident(3)),
        ev.StepFinished(step="test", exit_code=3, reason="Error", **ident(4)),
    )
    s = status.steps[0]
    assert (s.phase, s.exit_code, s.reason) == ("Failed", 3, "Error")


def test_rejected_run_is_failed_with_the_reason() -> None:
    """A rejected run is Failed at once, the condition carrying the rejection reason and message."""
    status = fold(
        requested(), ev.RunRejected(reason="ConfigNotFound", message="no PipelineConfig x", **ident(1))
    )
    cond = status.conditions[0]
    assert (status.phase, status.completion_time) == ("Failed", at(1))
    assert (cond.status, cond.reason, cond.message) == ("False", "ConfigNotFound", "no PipelineConfig x")


def test_condition_transition_time_moves_only_when_status_changes() -> None:
    """lastTransitionTime stays at the first Unknown while the reason progresses."""
    status = fold(requested(0), accepted("a", second=1), ev.StepScheduled(step="a", job_name="j", **ident(2)))
    cond = status.conditions[0]
    assert (cond.reason, cond.last_transition_time) == ("Running", at(0))


def test_cancellation_progresses_the_condition_and_ends_cancelled() -> None:
    """Cancel request, cancellation and finish give reasons in order and a Cancelled run."""
    history: list[ev.RunEvent] = [
        requested(),
        accepted("a", "b"),
        ev.StepStarted(step="a", **ident(2)),
        ev.RunCancelRequested(by="alice", **ident(3)),
    ]
    assert fold(*history).conditions[0].reason == "CancelRequested"
    history.append(ev.RunCancelled(message="cancelled by alice", **ident(4)))
    assert fold(*history).conditions[0].message == "cancelled by alice"
    history.append(ev.RunFinished(config=CONFIG, phase="Cancelled", reason="Cancelled", **ident(5)))
    status = fold(*history)
    assert status.phase == "Cancelled"
    assert [(s.phase, s.reason) for s in status.steps] == [("Failed", "RunEnded"), ("Skipped", "RunEnded")]


def test_terminal_status_never_changes() -> None:
    """After RunFinished no event changes the status, not even observedSequence."""
    done = fold(
        requested(), accepted("a"), ev.RunFinished(config=CONFIG, phase="Failed", reason="X", **ident(2))
    )
    after = run_status.evolve(done, 99, ev.StepStarted(step="a", **ident(3)))
    assert after is done


def test_event_at_or_below_observed_sequence_is_ignored() -> None:
    """A redelivered event (same or lower sequence) changes nothing."""
    status = fold(requested(), accepted("a"))
    again = run_status.evolve(status, 2, ev.StepStarted(step="a", **ident(3)))
    assert again is status


def test_events_for_unknown_steps_change_only_the_position() -> None:
    """A step event naming a step the snapshot lacks leaves the steps as they are."""
    status = fold(requested(), accepted("a"), ev.StepStarted(step="zzz", **ident(3)))
    assert [(s.name, s.phase) for s in status.steps] == [("a", "Pending")]
    assert status.observed_sequence == 3


def test_artifact_urls_are_not_duplicated() -> None:
    """The same artifact URL reported twice is listed once."""
    upload = ev.ArtifactUploaded(step="a", url="s3://x/app", path="app", **ident(3))
    status = fold(requested(), accepted("a"), upload, upload)
    assert status.steps[0].artifact_urls == ["s3://x/app"]


def test_fold_does_not_mutate_its_input() -> None:
    """evolve returns new Structs and leaves the given status untouched."""
    status = fold(requested(), accepted("a"))
    snapshot = copy.deepcopy(status)
    run_status.evolve(status, 3, ev.StepStarted(step="a", **ident(3)))
    run_status.evolve(status, 4, ev.ArtifactUploaded(step="a", url="u", path="p", **ident(3)))
    assert status == snapshot


def test_step_stopped_by_timeout_or_cancel_is_failed_whatever_its_exit_code() -> None:
    """A StepFinished with exit code 0 but reason Timeout or Cancelled makes the step Failed."""
    for reason in ("Timeout", "Cancelled"):
        status = fold(
            requested(),
            accepted("test"),
            ev.StepStarted(step="test", **ident(3)),
            ev.StepFinished(step="test", exit_code=0, reason=reason, **ident(4)),
        )
        assert (status.steps[0].phase, status.steps[0].exit_code, status.steps[0].reason) == (
            "Failed",
            0,
            reason,
        )
