"""The run aggregate: everything that happens to one PipelineRun, its steps, logs and artifacts.

All of these events travel on the run's own subject (`c8s.run.<namespace>.<run>`), so one run's
history is a subject filter away, in order. `uid` tells apart two runs that reused a name.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

from api.pipelineconfig import PipelineConfigSpec
from api.pipelinerun import PipelineRunSpec
from events.base import Event

FinalPhase = Literal["Succeeded", "Failed", "Cancelled"]
#: Reasons of a step that was stopped from outside (its timeout, a cancel): never a success,
#: whatever exit code its commands ended with (a TERM trap may well `exit 0`).
STOPPED_REASONS = frozenset({"Timeout", "Cancelled", "DeadlineExceeded"})


class RunIdentity(TypedDict):
    """The fields every run event shares, to build events with `**identity`."""

    namespace: str
    run: str
    uid: str
    at: datetime


class RunEvent(Event, frozen=True, kw_only=True):
    namespace: str
    run: str
    uid: str


class StepEvent(RunEvent, frozen=True, kw_only=True):
    step: str


class RunRequested(RunEvent, frozen=True, kw_only=True, tag="run.requested"):
    """A PipelineRun exists (created by a webhook or by kubectl) and asks to be executed."""

    spec: PipelineRunSpec


class RunAccepted(RunEvent, frozen=True, kw_only=True, tag="run.accepted"):
    """The scheduler took the run on, with a snapshot of the config: later edits never change it."""

    config: str
    snapshot: PipelineConfigSpec
    config_generation: int | None = None
    #: The RepositoryConnection's authSecretRef at acceptance (git credentials for the checkout).
    auth_secret_ref: str | None = None
    #: The run's RepositoryConnection (api/triggers.py's rule), the one its statuses go through.
    connection: str | None = None
    #: A fork's pull request: the steps get none of the config's secrets (forkPullRequests policy).
    secrets_withheld: bool = False


class RunRejected(RunEvent, frozen=True, kw_only=True, tag="run.rejected"):
    """The run cannot be executed (config missing or invalid, quota it can never fit)."""

    reason: str
    message: str


class RunCancelRequested(RunEvent, frozen=True, kw_only=True, tag="run.cancel-requested"):
    """Someone asked to cancel the run (`spec.cancelRequested: true`, `c8s cancel`)."""

    by: str = ""


class RunCancelled(RunEvent, frozen=True, kw_only=True, tag="run.cancelled"):
    """The scheduler stopped the run: running steps are being killed, pending ones will not start."""

    message: str = ""


class RunTimedOut(RunEvent, frozen=True, kw_only=True, tag="run.timed-out"):
    """The pipeline timeout passed: running steps are being killed, pending ones will not start."""

    timeout: str


class RunFinished(RunEvent, frozen=True, kw_only=True, tag="run.finished"):
    """The run reached its final phase: every step settled and every started step's log shipped."""

    config: str = ""
    phase: FinalPhase
    reason: str
    message: str = ""


class StepScheduled(StepEvent, frozen=True, kw_only=True, tag="step.scheduled"):
    """The step's workload was created (a Job in Kubernetes mode, a process in local mode)."""

    job_name: str


class StepStarted(StepEvent, frozen=True, kw_only=True, tag="step.started"):
    """The step's container started running."""

    job_name: str = ""
    pod: str = ""


class StepFinished(StepEvent, frozen=True, kw_only=True, tag="step.finished"):
    """The step ended. exit_code is None when it never ran (e.g. its image could not be pulled).
    It succeeded when it exited 0 by itself: not when its timeout or a cancel stopped it."""

    exit_code: int | None
    reason: str = ""
    message: str = ""

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and self.reason not in STOPPED_REASONS


class StepSkipped(StepEvent, frozen=True, kw_only=True, tag="step.skipped"):
    """The step will not run: a condition excluded it, a dependency failed, or the run stopped."""

    reason: str
    message: str = ""


class LogShipped(StepEvent, frozen=True, kw_only=True, tag="log.shipped"):
    """The step's whole (masked) log is in object storage at `url`."""

    url: str
    bytes: int = 0
    complete: bool = True


class ArtifactUploaded(StepEvent, frozen=True, kw_only=True, tag="artifact.uploaded"):
    """A file the step produced, matching its `artifacts` patterns, is in object storage."""

    url: str
    path: str
    bytes: int = 0


RunEvents = (
    RunRequested
    | RunAccepted
    | RunRejected
    | RunCancelRequested
    | RunCancelled
    | RunTimedOut
    | RunFinished
    | StepScheduled
    | StepStarted
    | StepFinished
    | StepSkipped
    | LogShipped
    | ArtifactUploaded
)
