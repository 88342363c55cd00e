"""The few fields of Jobs and Pods that c8s reads, decoded at the edge, and their port states.

Kubernetes sends nulls for unset strings and omits empty lists, so every field here is optional;
unknown fields are ignored (the API grows). `job_state` turns a Job and its pods into the
StepWorkloads port's JobState: the step's identity comes from the annotations the executor wrote
(label values may be shortened), the cancel mark from `c8s.dev/cancelled`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from msgspec import Struct, field

from ports.step_workloads import ContainerState, JobCondition, JobState, PodState
from steps.job_manifest import ANNOTATION_CANCELLED, LABEL_RUN, LABEL_RUN_UID, LABEL_STEP

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Owner(Struct, rename="camel"):
    kind: str = ""
    name: str = ""
    controller: bool | None = None


class Meta(Struct, rename="camel"):
    name: str = ""
    namespace: str = ""
    uid: str = ""
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    creation_timestamp: datetime | None = None
    deletion_timestamp: datetime | None = None
    owner_references: list[Owner] | None = None


class Condition(Struct, rename="camel"):
    type: str = ""
    status: str = ""
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime | None = None


class JobSpec(Struct, rename="camel"):
    suspend: bool | None = None


class JobStatus(Struct, rename="camel"):
    conditions: list[Condition] | None = None


class Job(Struct, rename="camel"):
    metadata: Meta
    spec: JobSpec = field(default_factory=JobSpec)
    status: JobStatus | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.metadata.namespace, self.metadata.name


class Waiting(Struct, rename="camel"):
    reason: str | None = None
    message: str | None = None


class Running(Struct, rename="camel"):
    started_at: datetime | None = None


class Terminated(Struct, rename="camel"):
    exit_code: int = 0
    reason: str | None = None
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class State(Struct, rename="camel"):
    waiting: Waiting | None = None
    running: Running | None = None
    terminated: Terminated | None = None


class ContainerStatus(Struct, rename="camel"):
    name: str
    state: State | None = None


class PodStatus(Struct, rename="camel"):
    phase: str | None = None
    reason: str | None = None
    message: str | None = None
    conditions: list[Condition] | None = None
    init_container_statuses: list[ContainerStatus] | None = None
    container_statuses: list[ContainerStatus] | None = None


class Pod(Struct, rename="camel"):
    metadata: Meta
    status: PodStatus | None = None

    @property
    def key(self) -> tuple[str, str]:
        return self.metadata.namespace, self.metadata.name

    @property
    def job_key(self) -> tuple[str, str] | None:
        owner = next(
            (o for o in self.metadata.owner_references or [] if o.kind == "Job" and o.controller), None
        )
        return (self.metadata.namespace, owner.name) if owner is not None else None


def job_state(job: Job, pods: list[Pod], *, gone: bool = False) -> JobState | None:
    """The port's state of a c8s Job; None for a Job without c8s's identity annotations."""
    notes = job.metadata.annotations or {}
    if not all(k in notes for k in (LABEL_RUN, LABEL_RUN_UID, LABEL_STEP)):
        return None
    return JobState(
        namespace=job.metadata.namespace,
        name=job.metadata.name,
        run=notes[LABEL_RUN],
        run_uid=notes[LABEL_RUN_UID],
        step=notes[LABEL_STEP],
        created_at=job.metadata.creation_timestamp or _EPOCH,
        cancelled=notes.get(ANNOTATION_CANCELLED) == "true",
        suspended=bool(job.spec.suspend),
        deleting=job.metadata.deletion_timestamp is not None,
        gone=gone,
        conditions=[_condition(c) for c in (job.status.conditions if job.status else None) or []],
        pods=[pod_state(p) for p in sorted(pods, key=lambda p: p.metadata.name)],
    )


def pod_state(pod: Pod) -> PodState:
    status = pod.status or PodStatus()
    scheduled = next(
        (c for c in status.conditions or [] if c.type == "PodScheduled" and c.status == "False"), None
    )
    return PodState(
        name=pod.metadata.name,
        created_at=pod.metadata.creation_timestamp or _EPOCH,
        phase=status.phase or "Pending",
        reason=status.reason or "",
        message=status.message or "",
        unscheduled=(scheduled.reason or "", scheduled.message or "") if scheduled is not None else None,
        deleting=pod.metadata.deletion_timestamp is not None,
        init_containers=[container_state(c) for c in status.init_container_statuses or []],
        containers=[container_state(c) for c in status.container_statuses or []],
    )


def container_state(c: ContainerStatus) -> ContainerState:
    state = c.state or State()
    if (t := state.terminated) is not None:
        return ContainerState(
            name=c.name,
            phase="terminated",
            reason=t.reason or "",
            message=t.message or "",
            exit_code=t.exit_code,
            started_at=t.started_at,
            finished_at=t.finished_at,
        )
    if state.running is not None:
        return ContainerState(name=c.name, phase="running", started_at=state.running.started_at)
    waiting = state.waiting or Waiting()
    return ContainerState(name=c.name, reason=waiting.reason or "", message=waiting.message or "")


def _condition(c: Condition) -> JobCondition:
    return JobCondition(
        type=c.type,
        status=c.status,
        reason=c.reason or "",
        message=c.message or "",
        at=c.last_transition_time,
    )
