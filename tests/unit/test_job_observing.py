"""The job-watcher's pure mapping (services.job_watcher.observing) from a Job snapshot to facts:
started, exit code and reason, OOMKilled, deadline vs cancel, failed checkout, artifacts before
StepFinished, a Job deadline with the pod gone, cancel before start, a stuck pod before and after
the start deadline, a Job deleted before its step ended, and the same snapshot always giving the
same facts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from events.run import ArtifactUploaded, StepFinished, StepStarted
from events.subjects import message_id
from ports.step_workloads import ContainerState, JobCondition, JobState, PodState
from services.job_watcher.observing import observe
from steps import artifact_report
from steps.artifact_report import ArtifactReport

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LATER = T0 + timedelta(seconds=30)
DEADLINE = timedelta(seconds=60)


def job(*pods: PodState, **kw: Any) -> JobState:
    return JobState(
        namespace="ns", name="r-s", run="r", run_uid="u", step="s", created_at=T0, pods=list(pods), **kw
    )


def pod(phase: str = "Running", *containers: ContainerState, reason: str = "", **kw: Any) -> PodState:
    return PodState(
        name="r-s-x", created_at=T0, phase=phase, reason=reason, containers=list(containers), **kw
    )


def step(phase: Any = "running", code: int | None = None, reason: str = "") -> ContainerState:
    return ContainerState(
        name="step",
        phase=phase,
        exit_code=code,
        reason=reason,
        started_at=T0,
        finished_at=LATER if phase == "terminated" else None,
    )


def facts(state: JobState, now: datetime = LATER) -> list[Any]:
    return list(observe(state, now, DEADLINE).events)


def test_running_step_is_started() -> None:
    """A running step container gives StepStarted with the Job and pod names, at its start time."""
    [started] = facts(job(pod("Running", step())))
    assert isinstance(started, StepStarted) and (started.job_name, started.pod, started.at) == (
        "r-s",
        "r-s-x",
        T0,
    )


def test_exit_code_and_reason() -> None:
    """A terminal pod gives StepFinished with the step container's exit code and reason."""
    _, done = facts(job(pod("Failed", step("terminated", 3, "Error"))))
    assert isinstance(done, StepFinished) and (done.exit_code, done.reason, done.message) == (
        3,
        "Error",
        "exit code 3",
    )
    oom = facts(job(pod("Failed", step("terminated", 137, "OOMKilled"))))[-1]
    assert isinstance(oom, StepFinished) and (oom.exit_code, oom.reason) == (137, "OOMKilled")


def test_not_finished_until_the_pod_is_terminal() -> None:
    """A step container that ended while the artifacts container still runs is only started."""
    assert [type(f) for f in facts(job(pod("Running", step("terminated", 0, "Completed"))))] == [StepStarted]


def test_deadline_and_cancel() -> None:
    """A pod killed by its deadline is a Timeout (as in local mode), or Cancelled if the Job was."""
    killed = pod("Failed", step("terminated", 137, "Error"), reason="DeadlineExceeded")
    assert facts(job(killed))[-1].reason == "Timeout"
    done = facts(job(killed, cancelled=True))[-1]
    assert isinstance(done, StepFinished) and (done.exit_code, done.reason) == (None, "Cancelled")


def test_a_step_killed_by_its_deadline_is_never_a_success() -> None:
    """A TERM trap exiting 0 at the pod's deadline still gives Timeout/Cancelled, not a success."""
    trapped = pod("Failed", step("terminated", 0, "Completed"), reason="DeadlineExceeded")
    for cancelled, reason in ((False, "Timeout"), (True, "Cancelled")):
        done = facts(job(trapped, cancelled=cancelled))[-1]
        assert isinstance(done, StepFinished)
        assert (done.exit_code, done.reason, done.succeeded) == (None, reason, False)


def test_failed_checkout() -> None:
    """A pod whose checkout failed gives only StepFinished CheckoutFailed with the container's message."""
    checkout = ContainerState(name="checkout", phase="terminated", exit_code=128, message="no such repo")
    [done] = facts(job(pod("Failed", ContainerState(name="step"), init_containers=[checkout])))
    assert isinstance(done, StepFinished) and (done.exit_code, done.reason, done.message) == (
        None,
        "CheckoutFailed",
        "no such repo",
    )


def test_artifacts_before_finished() -> None:
    """The artifacts container's report becomes ArtifactUploaded events between started and finished."""
    report = artifact_report.encode(ArtifactReport(base="s3://b/", files=[("a.txt", 3)], failed=["b.txt"]))
    sidecar = ContainerState(name="artifacts", phase="terminated", exit_code=0, message=report.decode())
    events = facts(job(pod("Succeeded", step("terminated", 0, "Completed"), sidecar)))
    assert [type(e) for e in events] == [StepStarted, ArtifactUploaded, StepFinished]
    assert (events[1].url, events[1].bytes) == ("s3://b/a.txt", 3)
    assert "b.txt" in events[2].message


def test_job_deadline_with_the_pod_gone() -> None:
    """The Job's own deadline (pods deleted) gives StepFinished with the condition's reason."""
    failed = JobCondition(type="Failed", status="True", reason="DeadlineExceeded", at=LATER)
    [done] = facts(job(conditions=[failed]))
    assert isinstance(done, StepFinished) and (done.exit_code, done.reason, done.at) == (
        None,
        "DeadlineExceeded",
        LATER,
    )


def test_cancelled_before_start() -> None:
    """A cancelled, suspended Job whose step never ran finishes Cancelled."""
    [done] = facts(job(cancelled=True, suspended=True))
    assert isinstance(done, StepFinished) and done.reason == "Cancelled"


def test_stuck_pod_fails_after_the_deadline() -> None:
    """A pod waiting on a missing Secret fails with that reason only once the start deadline passed."""
    waiting = ContainerState(name="step", reason="CreateContainerConfigError", message='secret "x" not found')
    state = job(pod("Pending", waiting))
    assert observe(state, T0 + DEADLINE - timedelta(seconds=1), DEADLINE).events == []
    observed = observe(state, T0 + DEADLINE, DEADLINE)
    [done] = observed.events
    assert observed.stop and isinstance(done, StepFinished)
    assert (done.reason, done.message) == ("CreateContainerConfigError", 'secret "x" not found')
    unschedulable = pod("Pending", unscheduled=("Unschedulable", "0/1 nodes"))
    assert observe(job(unschedulable), T0 + DEADLINE, DEADLINE).events[0].reason == "Unschedulable"


def test_same_snapshot_same_facts() -> None:
    """Observing a snapshot again gives exactly the same facts (what makes re-lists harmless)."""
    state = job(pod("Failed", step("terminated", 1, "Error")))
    assert facts(state) == facts(state)


def test_a_job_deleted_before_its_step_ended_fails_the_step() -> None:
    """`kubectl delete job` mid-step (or a Job missing at a re-list): StepFinished JobDeleted, so the
    run does not stay Running; with the pod's terminal state still known, the real outcome wins."""
    started, done = facts(job(pod("Running", step()), gone=True))
    assert isinstance(started, StepStarted)
    assert isinstance(done, StepFinished) and (done.exit_code, done.reason) == (None, "JobDeleted")
    assert "r-s was deleted" in done.message
    [never_ran] = facts(job(gone=True))
    assert isinstance(never_ran, StepFinished) and never_ran.reason == "JobDeleted"
    [cancelled] = facts(job(gone=True, cancelled=True))
    assert isinstance(cancelled, StepFinished) and cancelled.reason == "Cancelled"
    ended = facts(job(pod("Succeeded", step("terminated", 0, "Completed")), gone=True))[-1]
    assert isinstance(ended, StepFinished) and (ended.exit_code, ended.reason) == (0, "Completed")


def test_a_step_killed_by_its_pods_deletion_is_reported_as_the_deletion() -> None:
    """Foreground deletion of the Job (its pods go first): the step's SIGTERM exit is the deletion,
    whichever the watch shows first; a pod deleted on its own is PodDeleted; an exit that is not the
    termination signal, or a pod not being deleted, keeps the step's own outcome."""
    killed = pod("Failed", step("terminated", 143, "Error"), deleting=True)
    done = facts(job(killed, deleting=True))[-1]
    assert isinstance(done, StepFinished) and (done.exit_code, done.reason) == (None, "JobDeleted")
    gone = facts(job(pod("Running", step()), gone=True))[-1]
    assert message_id(done) == message_id(gone)  # one fact, whichever the watch showed first
    evicted = facts(job(pod("Failed", step("terminated", 137, "Error"), deleting=True)))[-1]
    assert isinstance(evicted, StepFinished) and (evicted.exit_code, evicted.reason) == (None, "PodDeleted")
    cancelled = facts(job(killed, deleting=True, cancelled=True))[-1]
    assert isinstance(cancelled, StepFinished) and cancelled.reason == "Cancelled"
    own = facts(job(pod("Failed", step("terminated", 1, "Error"), deleting=True), deleting=True))[-1]
    assert isinstance(own, StepFinished) and (own.exit_code, own.reason) == (1, "Error")
    sigterm = facts(job(pod("Failed", step("terminated", 143, "Error"))))[-1]
    assert isinstance(sigterm, StepFinished) and (sigterm.exit_code, sigterm.reason) == (143, "Error")
