"""From a step's Job and pods to the facts they show: a pure, level-triggered mapping.

`observe(job, now, start_deadline)` looks at the whole snapshot, not at what changed, and returns
every fact it shows so far, in order; the service publishes the ones not yet published (the same
snapshot always gives the same facts, so a restart or a re-list repeats nothing new).

- StepStarted once the `step` container ran (running or terminated with a start time).
- StepFinished once the pod is terminal (every container ended, so the artifacts report is in):
  the step container's exit code and reason (Completed, Error, OOMKilled, ...); a pod killed by its
  deadline (the step timeout): exit code None, reason Timeout (as in local mode), or Cancelled when
  the Job carries the cancel annotation; a failed checkout: None, CheckoutFailed with the init
  container's message.
  Before it, one ArtifactUploaded per file in the artifacts container's termination message.
- Without a terminal pod: a Failed Job condition (its own deadline, the backstop) or a cancelled
  Job with no pod that ran gives StepFinished with that reason; a pod stuck before starting
  (image pull errors, a missing Secret or key, unschedulable) fails with the stuck reason once
  it has existed for `start_deadline`, and the Job is to be stopped (`Observed.stop`).
- A Job that is gone (deleted, e.g. `kubectl delete job`, or missing at a re-list) before its pod
  showed a terminal state: StepFinished with reason JobDeleted (Cancelled if the Job was
  cancelled), so the run does not stay Running forever. When c8s's own cleanup or the Job's TTL
  removes a finished Job, its StepFinished is already stored and the same message id is not
  published again. The same when the Job is being deleted (a foreground deletion deletes its pods
  first) and the pod shows its step killed by the termination signal (exit 143 or 137) before the
  Job is gone: which of the two the watch shows first is a race, the fact is one. A pod deleted
  on its own (evicted, `kubectl delete pod`) with its step killed that way: PodDeleted.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from msgspec import Struct, field

from events.run import ArtifactUploaded, RunEvents, RunIdentity, StepFinished, StepStarted
from ports.step_workloads import ContainerState, JobState, PodState
from steps import artifact_report
from steps.job_manifest import ARTIFACTS_CONTAINER, CHECKOUT_CONTAINER, STEP_CONTAINER

STUCK_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "ErrImageNeverPull",
        "CreateContainerConfigError",
        "CreateContainerError",
        "Unschedulable",
    }
)
KILLED = "DeadlineExceeded"
#: The step's reason when its pod's deadline (the step timeout) killed it: the same as local mode's.
TIMED_OUT = "Timeout"


class Observed(Struct, frozen=True, kw_only=True):
    events: list[RunEvents] = field(default_factory=list)
    #: The pod can never start: stop the Job once StepFinished is published.
    stop: bool = False


def observe(job: JobState, now: datetime, start_deadline: timedelta) -> Observed:
    pod = _pod(job)
    events: list[RunEvents] = []
    if pod is not None and (started := _started(job, pod)) is not None:
        events.append(started)
    if pod is not None and pod.terminal:
        return Observed(events=[*events, *_artifacts(job, pod), _pod_finished(job, pod, now)])
    if (finished := _job_finished(job, pod, now)) is not None:
        return Observed(events=[*events, finished])
    if job.gone:
        return Observed(events=[*events, _deleted(job, now)])
    stuck = _stuck(pod) if pod is not None and not events else None
    if pod is not None and stuck is not None and now - pod.created_at >= start_deadline:
        return Observed(events=[_finished(job, None, stuck[0], stuck[1], now)], stop=True)
    return Observed(events=events)


def _pod(job: JobState) -> PodState | None:
    """The step's pod: the one whose step container ran, else the newest (backoffLimit is 0)."""
    ran = [p for p in job.pods if _ran(p.container(STEP_CONTAINER))]
    pods = ran or job.pods
    return max(pods, key=lambda p: p.created_at) if pods else None


def _ran(c: ContainerState | None) -> bool:
    return c is not None and (c.phase == "running" or (c.phase == "terminated" and c.started_at is not None))


def _started(job: JobState, pod: PodState) -> StepStarted | None:
    main = pod.container(STEP_CONTAINER)
    if main is None or not _ran(main):
        return None
    return StepStarted(**_ident(job, main.started_at or pod.created_at), job_name=job.name, pod=pod.name)


def _artifacts(job: JobState, pod: PodState) -> list[RunEvents]:
    sidecar = pod.container(ARTIFACTS_CONTAINER)
    report = artifact_report.decode(sidecar.message if sidecar is not None else None)
    if report is None or sidecar is None:
        return []
    at = sidecar.finished_at or pod.created_at
    return [
        ArtifactUploaded(**_ident(job, at), url=url, path=path, bytes=size)
        for path, url, size in report.urls()
    ]


def _pod_finished(job: JobState, pod: PodState, now: datetime) -> StepFinished:
    main = pod.container(STEP_CONTAINER)
    at = (main.finished_at if main is not None else None) or now
    if pod.reason == KILLED:
        reason = "Cancelled" if job.cancelled else TIMED_OUT
        return _finished(job, None, reason, pod.message, at)
    if main is None or main.phase != "terminated" or main.started_at is None:
        return _not_run(job, pod, at)
    if main.exit_code in TERMINATION_EXITS and (job.deleting or pod.deleting):
        if job.deleting or job.cancelled:
            return _deleted(job, at)
        detail = f"the step's pod {pod.name} was deleted (evicted, or by hand) before the step ended"
        return _finished(job, None, POD_DELETED, detail, at)
    message = "" if main.exit_code == 0 else (main.message or f"exit code {main.exit_code}")
    reason = main.reason or ("Completed" if main.exit_code == 0 else "Error")
    return _finished(job, main.exit_code, reason, _with_failed_uploads(message, pod), at)


def _not_run(job: JobState, pod: PodState, at: datetime) -> StepFinished:
    checkout = pod.container(CHECKOUT_CONTAINER)
    if checkout is not None and checkout.phase == "terminated" and checkout.exit_code != 0:
        detail = checkout.message or f"the checkout exited with code {checkout.exit_code}"
        return _finished(job, None, "CheckoutFailed", detail, at)
    if job.cancelled:
        return _finished(job, None, "Cancelled", "the run was cancelled", at)
    return _finished(job, None, pod.reason or "Error", pod.message or "the step's container never ran", at)


def _with_failed_uploads(message: str, pod: PodState) -> str:
    sidecar = pod.container(ARTIFACTS_CONTAINER)
    report = artifact_report.decode(sidecar.message if sidecar is not None else None)
    if report is None or not report.failed:
        return message
    return f"{message}; artifacts not uploaded: {', '.join(report.failed)}".lstrip("; ")


def _job_finished(job: JobState, pod: PodState | None, now: datetime) -> StepFinished | None:
    failed = job.condition("Failed")
    if failed is not None and (pod is None or pod.deleting or not _ran(pod.container(STEP_CONTAINER))):
        reason = "Cancelled" if job.cancelled else failed.reason or "Failed"
        return _finished(job, None, reason, failed.message, failed.at or now)
    if job.cancelled and job.suspended and (pod is None or pod.deleting) and not _anyone_ran(job):
        return _finished(job, None, "Cancelled", "the run was cancelled before the step started", now)
    return None


#: The step's reason when its Job went away before the step ended.
JOB_DELETED = "JobDeleted"
POD_DELETED = "PodDeleted"
#: A step ended by its pod's deletion: SIGTERM (128 + 15), or SIGKILL (128 + 9) after the grace.
TERMINATION_EXITS = frozenset({143, 137})


def _deleted(job: JobState, now: datetime) -> StepFinished:
    if job.cancelled:
        return _finished(job, None, "Cancelled", "the run was cancelled and the step's Job deleted", now)
    message = f"the step's Job {job.name} was deleted before the step ended"
    return _finished(job, None, JOB_DELETED, message, now)


def _anyone_ran(job: JobState) -> bool:
    return any(_ran(p.container(STEP_CONTAINER)) for p in job.pods)


def _stuck(pod: PodState) -> tuple[str, str] | None:
    if pod.unscheduled is not None and pod.unscheduled[0] in STUCK_REASONS:
        return pod.unscheduled
    for c in [*pod.init_containers, *pod.containers]:
        if c.phase == "waiting" and c.reason in STUCK_REASONS:
            return c.reason, c.message or f"container {c.name}: {c.reason}"
    return None


def _finished(job: JobState, code: int | None, reason: str, message: str, at: datetime) -> StepFinished:
    return StepFinished(**_ident(job, at), exit_code=code, reason=reason, message=message)


class StepIdentity(RunIdentity):
    step: str


def _ident(job: JobState, at: datetime) -> StepIdentity:
    return {"namespace": job.namespace, "run": job.run, "uid": job.run_uid, "step": job.step, "at": at}
