"""Watching runs to their end on a terminal: a line per step phase change, each finished step's
log once it is stored, and a summary per run. Polls the resource store (status is the projection
of the run's events, so this is what `kubectl get pr -w` would show).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from api.pipelinerun import TERMINAL_RUN_PHASES, TERMINAL_STEP_PHASES, PipelineRun, StepStatus
from c8s.render.ages import human_duration
from c8s.render.columns import run_phase
from c8s.stored_logs import StoredLogs, UntrustedLogURL
from ports.objects import ObjectNotFound, ObjectStoreUnavailable
from ports.resources import NotFound, ResourceStore

Say = Callable[[str], None]
POLL_SECONDS = 0.5
#: After the run ended, how long to wait for the last logs to be stored.
LOG_GRACE_SECONDS = 15.0


@dataclass
class Seen:
    """What was already printed for one run."""

    phase: str = ""
    steps: dict[str, str] = field(default_factory=dict)
    logs: set[str] = field(default_factory=set)


async def watch_runs(
    store: ResourceStore, log_store: str, namespace: str, names: list[str], say: Say
) -> list[PipelineRun]:
    """Print progress of every run until all are terminal and their logs shown (read only from
    `log_store`, the run's own prefix); the final runs."""
    seen = {name: Seen() for name in names}
    finals: dict[str, PipelineRun] = {}
    grace_end: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    while len(finals) < len(names):
        for name in names:
            if name in finals:
                continue
            run = await _get(store, namespace, name)
            if run is None:
                continue
            await _report(run, StoredLogs(log_store, namespace, name), seen[name], say)
            if run_phase(run) in TERMINAL_RUN_PHASES:
                end = grace_end.setdefault(name, loop.time() + LOG_GRACE_SECONDS)
                if _all_logs_shown(run, seen[name]) or loop.time() > end:
                    finals[name] = run
                    say(summary(run, datetime.now(UTC)))
        await asyncio.sleep(POLL_SECONDS)
    return [finals[n] for n in names]


async def _get(store: ResourceStore, namespace: str, name: str) -> PipelineRun | None:
    try:
        return await store.get(PipelineRun, namespace, name)
    except NotFound:
        return None


async def _report(run: PipelineRun, logs: StoredLogs, seen: Seen, say: Say) -> None:
    name, phase = run.metadata.name, run_phase(run)
    final = phase in TERMINAL_RUN_PHASES
    if phase != seen.phase and not final:
        say(f"pipelinerun/{name} {phase}")
    for step in run.status.steps if run.status is not None else []:
        if seen.steps.get(step.name) != step.phase:
            seen.steps[step.name] = step.phase
            say(f"  {step.name:<12} {step_line(step)}")
        if step.log_url and step.phase in TERMINAL_STEP_PHASES and step.name not in seen.logs:
            seen.logs.add(step.name)
            await _print_log(step, logs, say)
    if phase != seen.phase and final:
        say(f"pipelinerun/{name} {phase}")
    seen.phase = phase


def step_line(step: StepStatus) -> str:
    parts: list[str] = [step.phase]
    if step.exit_code is not None:
        parts.append(f"exit {step.exit_code}")
    if step.start_time is not None and step.completion_time is not None:
        parts.append(human_duration(step.completion_time - step.start_time))
    if step.reason and step.phase not in ("Succeeded", "Running"):
        parts.append(step.reason)
    return ", ".join(parts)


async def _print_log(step: StepStatus, logs: StoredLogs, say: Say) -> None:
    assert step.log_url is not None
    try:
        data = await logs.read(step.log_url)
    except (ObjectNotFound, ObjectStoreUnavailable, UntrustedLogURL) as e:
        say(f"  {step.name:<12} (log unreadable: {e})")
        return
    say(f"  --- log of {step.name} ---")
    for line in data.decode("utf-8", errors="replace").splitlines():
        say(f"  {step.name} | {line}")


def _all_logs_shown(run: PipelineRun, seen: Seen) -> bool:
    steps = run.status.steps if run.status is not None else []
    return all(s.name in seen.logs for s in steps if s.start_time is not None or s.exit_code is not None)


def summary(run: PipelineRun, now: datetime) -> str:
    status = run.status
    took = ""
    if status is not None and status.start_time is not None:
        took = " in " + human_duration((status.completion_time or now) - status.start_time)
    artifacts = [url for s in (status.steps if status else []) for url in s.artifact_urls]
    lines = [f"pipelinerun/{run.metadata.name} {run_phase(run)}{took}"]
    lines += [f"  artifact: {url}" for url in artifacts]
    return "\n".join(lines)
