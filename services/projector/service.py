"""The projector process: three durable consumers, each applying one pure fold to one kind.

- `projector-runs` folds run events into PipelineRun status (projections.run_status);
- `projector-configs` folds RunAccepted/RunFinished into PipelineConfig stats;
- `projector-connections` folds webhook decisions into RepositoryConnection lastEvent.

The written status is the fold's whole state (it carries observedSequence), so a restarted
projector resumes from the objects themselves: the consumer redelivers everything after its last
ack, and events at or below observedSequence change nothing. Writes never go backwards (the store
drops a status whose observedSequence is below the stored one) and carry the run's uid, so a run
deleted and created again under the same name never receives the old run's status. A write is
skipped when the fold changed nothing. Each phase a run's written status enters is counted
(c8s_runs_entered_phase_total).
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from msgspec.structs import replace

from adapters.runtime.instruments import INSTRUMENTS
from adapters.runtime.retrying import retry_outages
from api.pipelineconfig import PipelineConfig, PipelineConfigStatus
from api.pipelinerun import PipelineRun, PipelineRunStatus
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionStatus
from events.run import RunAccepted, RunEvent, RunFinished
from events.subjects import RUN_SUBJECTS, WEBHOOK_SUBJECTS
from events.webhook import WebhookAccepted, WebhookRejected
from ports.bus import Bus, Received, StopSignal
from ports.resources import NotFound, ResourceStore
from projections import config_stats, connection_status, run_status


class Projector:
    def __init__(self, store: ResourceStore) -> None:
        self.store = store

    async def on_run_event(self, received: Received) -> None:
        event = received.event
        if not isinstance(event, RunEvent):
            return
        try:
            run = await self.store.get(PipelineRun, event.namespace, event.run)
        except NotFound:
            return  # the run was deleted: nothing to show its status on
        if run.metadata.uid != event.uid:
            return  # an event of an earlier run that had the same name
        current = run.status or PipelineRunStatus()
        folded = run_status.evolve(current, received.seq, event)
        if _changed(current, folded):
            await self.store.patch_status(PipelineRun, event.namespace, event.run, folded, uid=event.uid)
            if folded.phase != current.phase:
                INSTRUMENTS.run_entered_phase(folded.phase)

    async def on_config_event(self, received: Received) -> None:
        event = received.event
        if not isinstance(event, RunAccepted | RunFinished) or not event.config:
            return
        try:
            config = await self.store.get(PipelineConfig, event.namespace, event.config)
        except NotFound:
            return
        current = config.status or PipelineConfigStatus()
        folded = config_stats.evolve(current, received.seq, event, event.config)
        if folded != current:
            await self.store.patch_status(PipelineConfig, event.namespace, event.config, folded)

    async def on_webhook_event(self, received: Received) -> None:
        event = received.event
        if not isinstance(event, WebhookAccepted | WebhookRejected) or not event.connection:
            return
        ns = event.namespace
        try:
            conn = await self.store.get(RepositoryConnection, ns, event.connection)
        except NotFound:
            return
        current = conn.status or RepositoryConnectionStatus()
        folded = connection_status.evolve(current, received.seq, event)
        if _changed(current, folded):
            await self.store.patch_status(RepositoryConnection, ns, event.connection, folded)


S = TypeVar("S", PipelineRunStatus, RepositoryConnectionStatus)


def _changed(before: S, after: S) -> bool:
    """True when the fold changed more than its position: only then is a write worth it."""
    return replace(before, observed_sequence=0) != replace(after, observed_sequence=0)


async def serve(bus: Bus, projector: Projector, stop: StopSignal) -> None:
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(
            bus.consume("projector-runs", [RUN_SUBJECTS], retry_outages(projector.on_run_event), stop)
        )
        tasks.create_task(
            bus.consume("projector-configs", [RUN_SUBJECTS], retry_outages(projector.on_config_event), stop)
        )
        tasks.create_task(
            bus.consume(
                "projector-connections", [WEBHOOK_SUBJECTS], retry_outages(projector.on_webhook_event), stop
            )
        )
