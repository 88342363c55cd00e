"""The PipelineConfig status fold: run events of one namespace -> per-config run statistics.

`totalRuns` counts accepted runs, `lastRun` is the time the latest one was accepted and
`successRate` is succeeded / finished (absent until a run finished). Idempotent by stream
sequence like every fold; the state keeps counts, not run lists, so it stays small forever.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct
from msgspec.structs import replace

from api.pipelineconfig import PipelineConfigStatus
from events.run import RunAccepted, RunEvent, RunFinished


class ConfigStats(Struct, frozen=True, kw_only=True):
    total_runs: int = 0
    finished_runs: int = 0
    succeeded_runs: int = 0
    last_run: datetime | None = None
    observed_sequence: int = 0


def evolve(stats: ConfigStats, seq: int, event: RunEvent, config: str) -> ConfigStats:
    """Fold one event into the stats of `config`; events of other configs only advance position."""
    if seq <= stats.observed_sequence:
        return stats
    stats = replace(stats, observed_sequence=seq)
    if isinstance(event, RunAccepted) and event.config == config:
        last = event.at if stats.last_run is None else max(stats.last_run, event.at)
        return replace(stats, total_runs=stats.total_runs + 1, last_run=last)
    if isinstance(event, RunFinished) and event.config == config:
        won = 1 if event.phase == "Succeeded" else 0
        return replace(
            stats, finished_runs=stats.finished_runs + 1, succeeded_runs=stats.succeeded_runs + won
        )
    return stats


def to_status(stats: ConfigStats) -> PipelineConfigStatus:
    rate = None
    if stats.finished_runs:
        rate = round(stats.succeeded_runs / stats.finished_runs, 4)
    return PipelineConfigStatus(
        last_run=stats.last_run,
        total_runs=stats.total_runs,
        success_rate=rate,
        observed_sequence=stats.observed_sequence,
    )
