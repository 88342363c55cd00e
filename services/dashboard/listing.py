"""The runs listing and a config's page as view models (pure: `now` is an argument).

Invariant: a listing is newest first (creation time, then trigger time, then name, so the order is
total and stable between two renders) and shows only runs that match every field of the filter.
"""

from __future__ import annotations

from datetime import UTC, datetime

from msgspec import Struct, field

from api.pipelineconfig import PipelineConfig, PipelineConfigStatus
from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun
from services.dashboard.inputs import RunFilter

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class RunRow(Struct, frozen=True, kw_only=True):
    """One run as a listing shows it (also the JSON API's run summary)."""

    namespace: str
    name: str
    config: str
    phase: str
    commit: str
    branch: str = ""
    pr: int | None = None
    #: push, tag, pull_request or manual (spec.trigger.event).
    event: str = "manual"
    #: The branch a pull request targets.
    target_branch: str = ""
    triggered_by: str = ""
    created: datetime | None = None
    started: datetime | None = None
    duration_seconds: float | None = None
    matrix: dict[str, str] = field(default_factory=dict)


class ConfigView(Struct, frozen=True, kw_only=True):
    """A PipelineConfig's page: its projected statistics and its recent runs."""

    namespace: str
    name: str
    repository: str
    steps: list[str]
    status: PipelineConfigStatus
    runs: list[RunRow]
    #: Mean duration of the finished runs listed (None before any finished).
    mean_duration_seconds: float | None = None


def run_row(run: PipelineRun, now: datetime) -> RunRow:
    spec, status, meta = run.spec, run.status, run.metadata
    return RunRow(
        namespace=meta.namespace,
        name=meta.name,
        config=spec.pipeline_config_ref,
        phase=status.phase if status else "Pending",
        commit=spec.commit,
        branch=spec.branch or "",
        pr=pull_request(run),
        event=spec.trigger.event if spec.trigger is not None else "manual",
        target_branch=(spec.trigger.target_branch or "") if spec.trigger is not None else "",
        triggered_by=spec.triggered_by,
        created=meta.creation_timestamp or spec.triggered_at,
        started=status.start_time if status else None,
        duration_seconds=duration(run, now),
        matrix=dict(spec.matrix_index or {}),
    )


def pull_request(run: PipelineRun) -> int | None:
    """The pull request number a run was triggered for, when its spec says (spec.trigger)."""
    trigger = run.spec.trigger
    if trigger is None or trigger.event != "pull_request":
        return None
    return trigger.number


def duration(run: PipelineRun, now: datetime) -> float | None:
    """Seconds from the first step's start to completion, or to `now` while the run goes on."""
    status = run.status
    if status is None or status.start_time is None:
        return None
    end = status.completion_time
    if end is None:
        end = None if status.phase in TERMINAL_RUN_PHASES else now
    return max(0.0, (end - status.start_time).total_seconds()) if end else None


def matches(row: RunRow, wanted: RunFilter) -> bool:
    checks = (
        (wanted.namespace, row.namespace),
        (wanted.config, row.config),
        (wanted.branch, row.branch),
        (wanted.phase, row.phase),
    )
    if any(want and want != have for want, have in checks):
        return False
    return wanted.pr is None or wanted.pr == row.pr


def run_rows(runs: list[PipelineRun], wanted: RunFilter, now: datetime) -> list[RunRow]:
    """The runs matching `wanted`, newest first, at most `wanted.limit`."""
    rows = [row for row in (run_row(run, now) for run in runs) if matches(row, wanted)]
    rows.sort(key=lambda r: (r.created or _EPOCH, r.namespace, r.name), reverse=True)
    return rows[: wanted.limit]


def config_view(config: PipelineConfig, runs: list[PipelineRun], now: datetime, limit: int) -> ConfigView:
    meta = config.metadata
    wanted = RunFilter(namespace=meta.namespace, config=meta.name, limit=limit)
    rows = run_rows(runs, wanted, now)
    finished = [
        r.duration_seconds for r in rows if r.phase in TERMINAL_RUN_PHASES and r.duration_seconds is not None
    ]
    return ConfigView(
        namespace=meta.namespace,
        name=meta.name,
        repository=config.spec.repository,
        steps=[s.name for s in config.spec.steps],
        status=config.status or PipelineConfigStatus(),
        runs=rows,
        mean_duration_seconds=sum(finished) / len(finished) if finished else None,
    )


def format_duration(seconds: float | None) -> str:
    """`42s`, `3m 05s`, `1h 02m`; empty when unknown."""
    if seconds is None:
        return ""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"
