"""PipelineRun: one execution of a PipelineConfig (spec/data-model.md, entity 2).

The status Structs here are what the projector writes to the status subresource; the fold that
computes them lives in projections/run_status.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from api.meta import API_VERSION, ObjectMeta

RunPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Cancelled"]
StepPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Skipped"]
ConditionStatus = Literal["True", "False", "Unknown"]
TERMINAL_RUN_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Cancelled"})
TERMINAL_STEP_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Skipped"})

CommitSHA = Annotated[
    str, Meta(pattern=r"^[a-f0-9]{7,40}$", description="Git commit SHA (7 to 40 lower-case hex characters)")
]


class PipelineRunSpec(Struct, kw_only=True, rename="camel", omit_defaults=True):
    pipeline_config_ref: Annotated[
        str, Meta(min_length=1, description="Name of the PipelineConfig in the same namespace")
    ]
    commit: CommitSHA
    branch: Annotated[str | None, Meta(description="Branch name")] = None
    triggered_by: Annotated[str, Meta(description="User or system that triggered the run")] = "system"
    triggered_at: Annotated[datetime | None, Meta(description="When the run was triggered")] = None
    matrix_index: Annotated[
        dict[str, str] | None,
        Meta(description="The matrix combination of this run (dimension to value)"),
    ] = None
    cancel_requested: Annotated[
        bool, Meta(description="Set to true (kubectl patch) to cancel the run")
    ] = False


class StepStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    name: str
    phase: StepPhase = "Pending"
    job_name: str | None = None
    start_time: datetime | None = None
    completion_time: datetime | None = None
    exit_code: int | None = None
    reason: Annotated[
        str | None, Meta(description="Why the step is in this phase (e.g. Timeout, Cancelled, DependencyFailed)")
    ] = None
    log_url: Annotated[str | None, Meta(description="Object storage URL of the step's log")] = None
    artifact_urls: list[str] = field(default_factory=list)


class Condition(Struct, kw_only=True, rename="camel", omit_defaults=True):
    type: str
    status: ConditionStatus
    reason: str | None = None
    message: str | None = None
    last_transition_time: datetime | None = None


class PipelineRunStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    phase: RunPhase = "Pending"
    start_time: datetime | None = None
    completion_time: datetime | None = None
    steps: list[StepStatus] = field(default_factory=list)
    conditions: list[Condition] = field(default_factory=list)
    observed_sequence: Annotated[
        int, Meta(description="Stream sequence of the last event folded into this status")
    ] = 0


class PipelineRun(Struct, kw_only=True, rename="camel", omit_defaults=True):
    api_version: str = API_VERSION
    kind: str = "PipelineRun"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PipelineRunSpec
    status: PipelineRunStatus | None = None
