"""The step-workload port: what the job-watcher sees of each step's Job and its pods.

The Kubernetes adapter (adapters.kube.workloads) lists and watches Jobs and Pods labelled by c8s
and yields, after every change, the whole state of the Job it concerns (the Job with all its
pods), so a consumer can be level-triggered: the latest snapshot is all it needs. After a re-list
(start-up, an expired watch) every Job is yielded again; a Job that disappeared is yielded once
with `gone=True`. Snapshots are typed here; no Kubernetes object leaks past the adapter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Literal, Protocol

from msgspec import Struct, field

ContainerPhase = Literal["waiting", "running", "terminated"]


class ContainerState(Struct, frozen=True, kw_only=True):
    name: str
    phase: ContainerPhase = "waiting"
    reason: str = ""
    message: str = ""
    exit_code: int | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class PodState(Struct, frozen=True, kw_only=True):
    name: str
    created_at: datetime
    phase: str = "Pending"
    reason: str = ""
    message: str = ""
    #: The PodScheduled=False reason and message (e.g. Unschedulable), if any.
    unscheduled: tuple[str, str] | None = None
    deleting: bool = False
    init_containers: list[ContainerState] = field(default_factory=list)
    containers: list[ContainerState] = field(default_factory=list)

    @property
    def terminal(self) -> bool:
        return self.phase in ("Succeeded", "Failed")

    def container(self, name: str) -> ContainerState | None:
        return next((c for c in [*self.init_containers, *self.containers] if c.name == name), None)


class JobCondition(Struct, frozen=True, kw_only=True):
    type: str
    status: str
    reason: str = ""
    message: str = ""
    at: datetime | None = None


class JobState(Struct, frozen=True, kw_only=True):
    """One step's Job: identity from its annotations, its conditions and its pods."""

    namespace: str
    name: str
    run: str
    run_uid: str
    step: str
    created_at: datetime
    cancelled: bool = False
    suspended: bool = False
    #: Being deleted (deletionTimestamp set: a foreground deletion waits for its pods to go first).
    deleting: bool = False
    gone: bool = False
    conditions: list[JobCondition] = field(default_factory=list)
    pods: list[PodState] = field(default_factory=list)

    def condition(self, kind: str) -> JobCondition | None:
        return next((c for c in self.conditions if c.type == kind and c.status == "True"), None)


class StepWorkloads(Protocol):
    def watch(self) -> AsyncIterator[JobState]:
        """Every c8s Job's state after each change to it or its pods, forever (re-listing as needed)."""
        ...

    async def stop(self, namespace: str, job: str) -> None:
        """Stop a Job whose pod will never start (it has no log to keep): idempotent."""
        ...

    async def close(self) -> None: ...
