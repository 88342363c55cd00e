"""PipelineRun: one execution of a PipelineConfig (spec/data-model.md, entity 2).

The status Structs here are what the projector writes to the status subresource; the fold that
computes them lives in projections/run_status.py. Limits (max lengths) keep the CRD's CEL rules
(immutable spec, terminal phase) within the apiserver's cost budget.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from api.meta import API_VERSION, Name, ObjectMeta

RunPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Cancelled"]
StepPhase = Literal["Pending", "Running", "Succeeded", "Failed", "Skipped"]
ConditionStatus = Literal["True", "False", "Unknown"]
TERMINAL_RUN_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Cancelled"})
TERMINAL_STEP_PHASES: frozenset[str] = frozenset({"Succeeded", "Failed", "Skipped"})

CommitSHA = Annotated[
    str,
    Meta(
        pattern=r"^[a-f0-9]{7,40}$",
        max_length=40,
        description="Git commit SHA (7 to 40 lower-case hex characters)",
        extra={"expected": "7 to 40 lower-case hex characters, e.g. abc123def456"},
    ),
]
Text = Annotated[str, Meta(max_length=1024)]
URL = Annotated[str, Meta(max_length=2048)]
TriggerEvent = Literal["push", "tag", "pull_request", "manual"]
TriggerProvider = Literal["github", "gitlab", "bitbucket"]


class Trigger(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """What started the run: the event, the RepositoryConnection it came through, and for a pull
    (merge) request its number, target branch and where its head lives. Set by the webhook; a run
    created by hand may name its connection here (see api/triggers.py for the rule without one)."""

    event: Annotated[
        TriggerEvent, Meta(description="push, tag, pull_request or manual (created by hand)")
    ] = "manual"
    connection: Annotated[
        Name | None, Meta(description="RepositoryConnection (same namespace) the run belongs to")
    ] = None
    provider: Annotated[
        TriggerProvider | None, Meta(description="The git provider that sent the event")
    ] = None
    repository: Annotated[
        Annotated[str, Meta(max_length=512)] | None,
        Meta(description="The repository as the provider names it (owner/repo, GitLab's full path)"),
    ] = None
    number: Annotated[
        Annotated[int, Meta(ge=0)] | None,
        Meta(description="Pull request number (GitLab: merge request iid)"),
    ] = None
    target_branch: Annotated[
        Annotated[str, Meta(max_length=255)] | None, Meta(description="Branch the pull request targets")
    ] = None
    source_repository: Annotated[
        URL | None, Meta(description="Clone URL of the repository holding the pull request's head")
    ] = None
    fork: Annotated[
        bool, Meta(description="The pull request's head is in another repository (a fork)")
    ] = False


class PipelineRunSpec(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """What to run: a PipelineConfig at a commit. Immutable except cancelRequested."""

    pipeline_config_ref: Annotated[
        Name, Meta(min_length=1, description="Name of the PipelineConfig in the same namespace")
    ]
    commit: CommitSHA
    branch: Annotated[Annotated[str, Meta(max_length=255)] | None, Meta(description="Branch name")] = None
    triggered_by: Annotated[
        str, Meta(max_length=255, description="User or system that triggered the run")
    ] = "system"
    triggered_at: Annotated[datetime | None, Meta(description="When the run was triggered")] = None
    matrix_index: Annotated[
        Annotated[dict[str, Annotated[str, Meta(max_length=253)]], Meta(max_length=10)] | None,
        Meta(description="The matrix combination of this run (dimension to value)"),
    ] = None
    cancel_requested: Annotated[
        bool, Meta(description="Set to true (kubectl patch) to cancel the run; cannot be set back to false")
    ] = False
    trigger: Annotated[
        Trigger | None, Meta(description="What started the run (event, connection, pull request)")
    ] = None


class StepStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Where one step of the run stands."""

    name: Annotated[str, Meta(max_length=63, description="Step name, as in the PipelineConfig")]
    phase: Annotated[StepPhase, Meta(description="Pending, Running, Succeeded, Failed or Skipped")] = (
        "Pending"
    )
    job_name: Annotated[
        Annotated[str, Meta(max_length=63)] | None, Meta(description="Kubernetes Job running this step")
    ] = None
    start_time: Annotated[datetime | None, Meta(description="When the step started running")] = None
    completion_time: Annotated[datetime | None, Meta(description="When the step finished")] = None
    exit_code: Annotated[int | None, Meta(description="Exit code of the step's commands")] = None
    reason: Annotated[
        Annotated[str, Meta(max_length=255)] | None,
        Meta(
            description="Why the step is in this phase (e.g. Timeout, Cancelled, DependencyFailed)",
        ),
    ] = None
    # The spec spells these logURL/artifactURLs, not the camel-case logUrl/artifactUrls.
    log_url: Annotated[URL | None, Meta(description="Object storage URL of the step's log")] = field(
        default=None, name="logURL"
    )
    artifact_urls: Annotated[
        list[URL], Meta(max_length=100, description="Object storage URLs of the uploaded artifacts")
    ] = field(default_factory=list, name="artifactURLs")


class Condition(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A Kubernetes-style condition (type Succeeded: True, False or Unknown while running)."""

    type: Annotated[str, Meta(max_length=316, description="Condition type, e.g. Succeeded")]
    status: Annotated[ConditionStatus, Meta(description="The strings True, False or Unknown")]
    reason: Annotated[
        Annotated[str, Meta(max_length=1024)] | None,
        Meta(description="One-word CamelCase reason for the status"),
    ] = None
    message: Annotated[
        Annotated[str, Meta(max_length=32768)] | None, Meta(description="Human-readable details")
    ] = None
    last_transition_time: Annotated[datetime | None, Meta(description="When the status last changed")] = None


class PipelineRunStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Observed state, a projection of the run's events. A terminal phase never changes."""

    phase: Annotated[
        RunPhase,
        Meta(description="Pending, Running, Succeeded, Failed or Cancelled (the last three are final)"),
    ] = "Pending"
    start_time: Annotated[datetime | None, Meta(description="When the first step started")] = None
    completion_time: Annotated[datetime | None, Meta(description="When the run finished")] = None
    steps: Annotated[list[StepStatus], Meta(max_length=100, description="Status of each step")] = field(
        default_factory=list
    )
    conditions: Annotated[list[Condition], Meta(max_length=20, description="Conditions (type Succeeded)")] = (
        field(default_factory=list)
    )
    observed_sequence: Annotated[
        int, Meta(ge=0, description="Stream sequence of the last event folded into this status")
    ] = 0


class PipelineRun(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """One execution of a PipelineConfig at a commit."""

    api_version: str = API_VERSION
    kind: str = "PipelineRun"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: PipelineRunSpec
    status: PipelineRunStatus | None = None
