"""A run's page as a view model (pure: the run, its event history and `now` in, a RunView out).

The steps come from the config snapshot the run was accepted with (so a step that has not started
yet is shown, with its dependsOn edges), merged with the projected status (phase, times, exit code,
log and artifact URLs) and, for a skipped step, the reason and message its StepSkipped event gave.
Invariant: `levels` places every step after all the steps it depends on (level = longest dependsOn
path from a root), so the DAG reads left to right; a step the snapshot does not know (status only)
sits on level 0.
"""

from __future__ import annotations

import re
from datetime import datetime

from msgspec import Struct, field

from api.pipelineconfig import PipelineConfigSpec
from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun, StepStatus
from events.run import RunEvent, StepSkipped
from projections.event_details import details, timestamp
from projections.run_progress import fold_run
from services.dashboard.listing import RunRow, run_row


class ArtifactView(Struct, frozen=True, kw_only=True):
    index: int
    name: str


class StepView(Struct, frozen=True, kw_only=True):
    name: str
    phase: str
    level: int = 0
    depends_on: list[str] = field(default_factory=list)
    exit_code: int | None = None
    reason: str = ""
    message: str = ""
    started: datetime | None = None
    finished: datetime | None = None
    duration_seconds: float | None = None
    has_log: bool = False
    artifacts: list[ArtifactView] = field(default_factory=list)


class EventView(Struct, frozen=True, kw_only=True):
    seq: int
    at: str
    type: str
    details: list[str]


class RunView(Struct, frozen=True, kw_only=True):
    row: RunRow
    uid: str
    reason: str = ""
    message: str = ""
    repository: str = ""
    commit_url: str = ""
    terminal: bool = False
    cancel_requested: bool = False
    steps: list[StepView] = field(default_factory=list)
    events: list[EventView] = field(default_factory=list)

    @property
    def levels(self) -> list[list[StepView]]:
        depth = max((s.level for s in self.steps), default=-1) + 1
        return [[s for s in self.steps if s.level == n] for n in range(depth)]


def run_view(run: PipelineRun, history: list[tuple[int, RunEvent]], now: datetime) -> RunView:
    events = [e for _, e in history]
    progress = fold_run(events, run.metadata.uid)
    snapshot = progress.ctx.snapshot
    reason, message = _condition(run)
    repository = snapshot.repository if snapshot else ""
    return RunView(
        row=run_row(run, now),
        uid=run.metadata.uid,
        reason=reason,
        message=message,
        repository=repository,
        commit_url=commit_url(repository, run.spec.commit),
        terminal=(run.status.phase if run.status else "Pending") in TERMINAL_RUN_PHASES,
        cancel_requested=run.spec.cancel_requested,
        steps=step_views(run, snapshot, _skips(events), now),
        events=[
            EventView(seq=seq, at=timestamp(e.at), type=e.type, details=details(e)) for seq, e in history
        ],
    )


def step_views(
    run: PipelineRun, snapshot: PipelineConfigSpec | None, skips: dict[str, str], now: datetime
) -> list[StepView]:
    statuses = {s.name: s for s in (run.status.steps if run.status else [])}
    edges = {s.name: list(s.depends_on) for s in snapshot.steps} if snapshot else {}
    names = list(edges) + [n for n in statuses if n not in edges]
    levels = dag_levels(edges)
    return [
        _step(n, statuses.get(n), edges.get(n, []), levels.get(n, 0), skips.get(n, ""), now) for n in names
    ]


def dag_levels(edges: dict[str, list[str]]) -> dict[str, int]:
    """Each step's level: 0 without dependencies, else one more than its deepest dependency
    (unknown dependencies are ignored; a cycle, which validation refuses, does not loop)."""
    levels: dict[str, int] = {}

    def level(name: str, seen: frozenset[str]) -> int:
        if name not in levels:
            deps = [d for d in edges.get(name, []) if d in edges and d not in seen]
            levels[name] = 1 + max((level(d, seen | {name}) for d in deps), default=-1)
        return levels[name]

    for name in edges:
        level(name, frozenset())
    return levels


def _step(
    name: str, status: StepStatus | None, deps: list[str], level: int, skip: str, now: datetime
) -> StepView:
    if status is None:
        return StepView(name=name, phase="Pending", level=level, depends_on=deps)
    return StepView(
        name=name,
        phase=status.phase,
        level=level,
        depends_on=deps,
        exit_code=status.exit_code,
        reason=status.reason or "",
        message=skip,
        started=status.start_time,
        finished=status.completion_time,
        duration_seconds=_seconds(status, now),
        has_log=bool(status.log_url),
        artifacts=[ArtifactView(index=i, name=artifact_name(u)) for i, u in enumerate(status.artifact_urls)],
    )


def _seconds(status: StepStatus, now: datetime) -> float | None:
    if status.start_time is None:
        return None
    end = status.completion_time or (now if status.phase == "Running" else None)
    return max(0.0, (end - status.start_time).total_seconds()) if end else None


def _skips(events: list[RunEvent]) -> dict[str, str]:
    """Why each skipped step was skipped: its StepSkipped reason and message."""
    return {
        e.step: f"{e.reason}: {e.message}" if e.message else e.reason
        for e in events
        if isinstance(e, StepSkipped)
    }


def _condition(run: PipelineRun) -> tuple[str, str]:
    for condition in run.status.conditions if run.status else []:
        if condition.type == "Succeeded":
            return condition.reason or "", condition.message or ""
    return "", ""


def artifact_name(url: str) -> str:
    """The file name an artifact downloads as: its URL's last segment."""
    return url.rstrip("/").rsplit("/", 1)[-1] or "artifact"


_SCP = re.compile(r"^[\w.-]+@([\w.-]+):(.+)$")
_COMMIT_PATHS = {"github": "/commit/", "gitlab": "/-/commit/", "bitbucket": "/commits/"}


def commit_url(repository: str, commit: str) -> str:
    """The provider's page of the commit (https only), or "" for a host that is none of the three."""
    scp = _SCP.match(repository)
    url = f"https://{scp.group(1)}/{scp.group(2)}" if scp else repository
    match = re.match(r"^(?:https?|ssh|git)://(?:[^@/]+@)?([^/:]+)(?::\d+)?/(.+?)(?:\.git)?/?$", url)
    if not match:
        return ""
    host, path = match.groups()
    for provider, infix in _COMMIT_PATHS.items():
        if provider in host:
            return f"https://{host}/{path}{infix}{commit}"
    return ""
