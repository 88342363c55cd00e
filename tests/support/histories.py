"""Histories of several runs and webhook deliveries in one namespace, for projector tests.

`script(...)` gives one run's events in the order its producers publish them (requested, accepted,
each step scheduled/started/finished/log shipped, finished), with exit codes chosen by the
caller; `deliveries(...)` gives webhook decisions for one connection with event times that need
not grow with the stream sequence. The projector must end with the fold of what was stored;
`status_changes(...)` counts the stored events that change a run's status (one write each when
handed over one at a time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from msgspec.structs import replace

from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from events import run as ev
from events.webhook import WebhookAccepted, WebhookEvent, WebhookRejected
from ports.bus import Received
from projections import run_status

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
CONFIG, CONNECTION = "app-ci", "app-repo"
REPO = "https://example.com/org/app"


def config(ns: str, steps: int) -> PipelineConfig:
    spec = PipelineConfigSpec(
        repository=REPO, steps=[Step(name=f"s{i}", image="alpine", commands=["true"]) for i in range(steps)]
    )
    return PipelineConfig(metadata=ObjectMeta(namespace=ns, name=CONFIG), spec=spec)


def connection(ns: str) -> RepositoryConnection:
    spec = RepositoryConnectionSpec(repository=REPO, provider="github", webhook_secret_ref="hook")
    return RepositoryConnection(metadata=ObjectMeta(namespace=ns, name=CONNECTION), spec=spec)


def pipeline_run(ns: str, name: str) -> PipelineRun:
    spec = PipelineRunSpec(pipeline_config_ref=CONFIG, commit="abcdef1", branch="main")
    return PipelineRun(metadata=ObjectMeta(namespace=ns, name=name), spec=spec)


def script(ns: str, run: str, uid: str, exit_codes: list[int]) -> list[ev.RunEvent]:
    """One run's events in publishing order; the run fails when any step exits non-zero."""
    clock = iter(range(10_000))

    def ident() -> dict[str, Any]:
        return {"namespace": ns, "run": run, "uid": uid, "at": T0 + timedelta(seconds=next(clock))}

    snapshot = config(ns, len(exit_codes)).spec
    events: list[ev.RunEvent] = [
        ev.RunRequested(spec=PipelineRunSpec(pipeline_config_ref=CONFIG, commit="abcdef1"), **ident()),
        ev.RunAccepted(config=CONFIG, snapshot=snapshot, **ident()),
    ]
    for i, code in enumerate(exit_codes):
        step, job = f"s{i}", f"{run}-s{i}"
        events += [
            ev.StepScheduled(step=step, job_name=job, **ident()),
            ev.StepStarted(step=step, job_name=job, **ident()),
            ev.StepFinished(
                step=step, exit_code=code, reason="Completed" if code == 0 else "Error", **ident()
            ),
            ev.LogShipped(step=step, url=f"file:///logs/{run}/{step}.log", bytes=3, **ident()),
        ]
    phase = "Succeeded" if not any(exit_codes) else "Failed"
    events.append(ev.RunFinished(config=CONFIG, phase=phase, reason=phase, **ident()))
    return events


def deliveries(ns: str, offsets: list[int]) -> list[WebhookEvent]:
    """Webhook decisions for the connection: offset >= 0 an accepted push at T0+offset seconds
    (commit named after it), a negative one a rejected delivery."""
    out: list[WebhookEvent] = []
    for i, offset in enumerate(offsets):
        at = T0 + timedelta(seconds=abs(offset))
        if offset >= 0:
            out.append(
                WebhookAccepted(
                    provider="github",
                    delivery=f"d{i}",
                    event="push",
                    namespace=ns,
                    connection=CONNECTION,
                    repository=REPO,
                    commit=f"{offset:07x}",
                    at=at,
                )
            )
        else:
            out.append(
                WebhookRejected(
                    provider="github",
                    delivery=f"d{i}",
                    status=401,
                    reason="bad signature",
                    namespace=ns,
                    connection=CONNECTION,
                    repository=REPO,
                    at=at,
                )
            )
    return out


def status_changes(events: list[Received]) -> int:
    """How many of a run's stored events change its status (each folded in stream order)."""
    count, status = 0, run_status.initial()
    for r in events:
        assert isinstance(r.event, ev.RunEvent)
        folded = run_status.evolve(status, r.seq, r.event)
        count += replace(folded, observed_sequence=0) != replace(status, observed_sequence=0)
        status = folded
    return count
