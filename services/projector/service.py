"""The projector process: three durable consumers, each applying one pure fold to one kind.

- `projector-runs` folds run events into PipelineRun status (projections.run_status);
- `projector-configs` folds RunAccepted/RunFinished into PipelineConfig stats;
- `projector-connections` folds webhook decisions into RepositoryConnection lastEvent.

Exactly once and in order, whatever the delivery: a written status is always the fold of every
event of its subject (the run's, the connection's) up to its observedSequence. An event at or
below it changes nothing; one above it is folded together with every stored event of the subject
it would otherwise overtake (ports.bus.unfolded: one next_after request when nothing lies
between), so a retry that comes back late or a second replica holding an earlier event loses
nothing; two folds of one history differ only in how far they got, and the store refuses a status
behind the stored one (compare-and-set), so concurrent writers agree. Config stats count events of many runs
(no one subject is their history), so `projector-configs` is a serial consumer: one message in
flight across all replicas, strictly in stream order, retries included.

Under a burst: `projector-runs` and `projector-connections` handle up to HANDLERS messages at
once per process (consume concurrency), so the round trips of different runs (a store read, a
next_after, a status write) overlap instead of queueing behind each other; one subject's events
take a per-subject lock (adapters.runtime.keyed_locks), in delivery order. A handler that sees
more deliveries of its subject queued behind it folds ahead to the subject's end (unfolded's
`ahead`), so it writes once for all of them and each of them then finds its event covered
without a store read: the process remembers how far the status it last read or wrote for a run
covers (services/projector/covered.py; a stored status never goes backwards, so that is what
the read would say). It also keeps that status, and folds a run's next event from it: a store read
only for a run it does not know (its first event here, or after the store refused a write), so an
event costs one status write (in Kubernetes mode one PATCH, not a GET and a PATCH). None of this
changes the rule above: the lock only saves conflicting work, a fold from a status that another
replica has since overtaken is still the fold of the history (the store drops it if it is behind),
and what is written is still the fold of the stored history up to its observedSequence.

Writes never go backwards (the store drops a status whose observedSequence is below the stored
one, compare-and-set) and carry the run's uid, so a run deleted and created again under the same
name never receives the old run's status. A write is skipped when the fold changed nothing. Each
phase a run's written status enters is counted (c8s_runs_entered_phase_total).
"""

from __future__ import annotations

import asyncio
from typing import TypeVar

from msgspec.structs import replace

from adapters.runtime.instruments import INSTRUMENTS
from adapters.runtime.keyed_locks import KeyedLocks
from adapters.runtime.retrying import retry_outages
from api.pipelineconfig import PipelineConfig, PipelineConfigStatus
from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun, PipelineRunStatus
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionStatus
from events.run import RunAccepted, RunEvent, RunFinished
from events.subjects import RUN_SUBJECTS, WEBHOOK_SUBJECTS, connection_subject, run_subject
from events.webhook import WebhookAccepted, WebhookEvent, WebhookRejected
from ports.bus import Bus, Received, StopSignal, unfolded
from ports.resources import NotFound, ResourceStore
from projections import config_stats, connection_status, run_status
from services.projector.covered import Covered

#: Handlers at once per consumer and process (projector-runs, projector-connections): more than
#: the runs of a burst, so that a run's next deliveries are often in flight together and the first
#: folds them ahead (module docstring).
HANDLERS = 64


class Projector:
    def __init__(self, bus: Bus, store: ResourceStore) -> None:
        self.bus, self.store = bus, store
        self._subjects = KeyedLocks()
        self._covered = Covered()

    async def on_run_event(self, received: Received) -> None:
        event = received.event
        if not isinstance(event, RunEvent):
            return
        subject = run_subject(event.namespace, event.run)
        async with self._subjects.held(subject):
            await self._project_run(received, event, subject)

    async def _project_run(self, received: Received, event: RunEvent, subject: str) -> None:
        key = (event.namespace, event.run, event.uid)
        if self._covered.covers(key, received.seq):
            return  # folded ahead by an earlier delivery (covered.py: as the store would say)
        current = self._covered.known(key)
        if current is None:
            current = await self._stored_status(key)
        if current is None or received.seq <= current.observed_sequence:
            return
        ahead = self._subjects.waiting(subject) > 0
        news = await unfolded(self.bus, subject, current.observed_sequence, received, ahead=ahead)
        folded = run_status.fold(_of_run(news, event.uid), current)
        if _changed(current, folded):
            try:
                written = await self.store.patch_status(
                    PipelineRun, event.namespace, event.run, folded, uid=event.uid
                )
            except NotFound:
                written = None  # deleted since this process last read or wrote it
            if written is None or written.status is None:
                self._covered.forget(key)  # behind the stored status, or another run: read next time
            else:
                self._covered.stored(key, written.status)
            if folded.phase != current.phase:
                INSTRUMENTS.run_entered_phase(folded.phase)

    async def _stored_status(self, key: tuple[str, str, str]) -> PipelineRunStatus | None:
        """The run's stored status (remembered), or None when there is nothing to fold into: the run
        is gone, is another run of the same name, or has finished."""
        namespace, name, uid = key
        try:
            run = await self.store.get(PipelineRun, namespace, name)
        except NotFound:
            return None  # the run was deleted: nothing to show its status on
        if run.metadata.uid != uid:
            return None  # an event of an earlier run that had the same name
        current = run.status or PipelineRunStatus()
        self._covered.stored(key, current)
        return None if current.phase in TERMINAL_RUN_PHASES else current

    async def on_config_event(self, received: Received) -> None:
        """Delivered serially (see the module docstring): the seq check alone makes it exactly once."""
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
        subject = connection_subject(event.namespace, event.connection)
        async with self._subjects.held(subject):
            await self._project_connection(received, event, subject)

    async def _project_connection(
        self, received: Received, event: WebhookAccepted | WebhookRejected, subject: str
    ) -> None:
        ns = event.namespace
        try:
            conn = await self.store.get(RepositoryConnection, ns, event.connection)
        except NotFound:
            return
        current = conn.status or RepositoryConnectionStatus()
        if received.seq <= current.observed_sequence:
            return
        ahead = self._subjects.waiting(subject) > 0
        news = await unfolded(self.bus, subject, current.observed_sequence, received, ahead=ahead)
        folded = current
        for r in news:
            if isinstance(r.event, WebhookEvent):
                folded = connection_status.evolve(folded, r.seq, r.event)
        if _changed(current, folded):
            await self.store.patch_status(RepositoryConnection, ns, event.connection, folded)


def _of_run(news: list[Received], uid: str) -> list[tuple[int, RunEvent]]:
    """The (seq, event) pairs of run `uid` (a subject may also hold an earlier run's events)."""
    return [(r.seq, r.event) for r in news if isinstance(r.event, RunEvent) and r.event.uid == uid]


S = TypeVar("S", PipelineRunStatus, RepositoryConnectionStatus)


def _changed(before: S, after: S) -> bool:
    """True when the fold changed more than its position: only then is a write worth it."""
    return replace(before, observed_sequence=0) != replace(after, observed_sequence=0)


async def serve(
    bus: Bus,
    projector: Projector,
    stop: StopSignal,
    *,
    retry_delay: float = 2.0,
    concurrency: int = HANDLERS,
) -> None:
    async with asyncio.TaskGroup() as tasks:
        tasks.create_task(
            bus.consume(
                "projector-runs",
                [RUN_SUBJECTS],
                retry_outages(projector.on_run_event, retry_delay),
                stop,
                concurrency,
            )
        )
        tasks.create_task(
            bus.consume(
                "projector-configs",
                [RUN_SUBJECTS],
                retry_outages(projector.on_config_event, retry_delay),
                stop,
                serial=True,
            )
        )
        tasks.create_task(
            bus.consume(
                "projector-connections",
                [WEBHOOK_SUBJECTS],
                retry_outages(projector.on_webhook_event, retry_delay),
                stop,
                concurrency,
            )
        )
