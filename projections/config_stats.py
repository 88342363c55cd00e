"""The PipelineConfig status fold: run events of one namespace -> per-config run statistics.

`totalRuns` counts accepted runs, `lastRun` is the time the latest one was accepted and
`successRate` is succeededRuns / finishedRuns (absent until a run finished). The status itself is
the fold's state (the counts live in it), so the projector needs nothing but the current object;
idempotent by stream sequence like every fold, and it stays small forever.
"""

from __future__ import annotations

from msgspec.structs import replace

from api.pipelineconfig import PipelineConfigStatus
from events.run import RunAccepted, RunEvent, RunFinished

Stats = PipelineConfigStatus


def evolve(stats: Stats, seq: int, event: RunEvent, config: str) -> Stats:
    """Fold one event into the stats of `config`; events of other configs only advance position."""
    if seq <= stats.observed_sequence:
        return stats
    stats = replace(stats, observed_sequence=seq)
    if isinstance(event, RunAccepted) and event.config == config:
        last = event.at if stats.last_run is None else max(stats.last_run, event.at)
        return replace(stats, total_runs=stats.total_runs + 1, last_run=last)
    if isinstance(event, RunFinished) and event.config == config:
        finished = stats.finished_runs + 1
        succeeded = stats.succeeded_runs + (1 if event.phase == "Succeeded" else 0)
        rate = round(succeeded / finished, 4)
        return replace(stats, finished_runs=finished, succeeded_runs=succeeded, success_rate=rate)
    return stats
