"""The notifier process: the durable consumer `notifier` of run events (commit statuses, chat
messages), the consumer of comment commands (commands.py) and the webhook registrar beside them.

Per run event: RunAccepted -> a `pending` commit status; RunFinished -> the final status
(success/failure/error as GitHub spells them; success/failed/canceled on GitLab;
SUCCESSFUL/FAILED/STOPPED on Bitbucket) and, if the namespace asks, a chat message; RunRejected
-> an error status with the reason. The run's history gives the rest (commit, matrix and trigger
from RunRequested, config and connection from RunAccepted) and says which transitions are settled.

Never the same transition twice: a transition is settled by the NotificationSent/Failed
published once the provider answered (Nats-Msg-Id = run uid + channel + transition), and a
settled transition is skipped, across restarts and replicas; the stream is the notifier's only
memory. The crash window lies between the provider's 2xx and that publish: the message is then
redelivered and the same status posted again, so delivery is at-least-once, made harmless by the
providers' own semantics (GitHub stores an identical status again; Bitbucket overwrites the
key; GitLab stores a repeated final status anew and refuses a repeated `pending` with 400
"Cannot transition status via :enqueue from :pending", which counts as accepted). A KV record
written after the 2xx would have the same window, so none is kept.

Order (statuses never go backwards): a `pending` is skipped once the history shows the run's end,
and is sent once, never retried in place (a 5xx naks the message, and the redelivery reads the
history again first), so it cannot land after the final status it was overtaken by. Within a
process, one run's transitions are handled one at a time (a lock per run), so a final status is
never in flight beside a pending one. Between replicas a pending may still cross a final, so after
posting `pending` the history is read again and, if the run finished meanwhile, the final status is
posted once more: in every interleaving the provider's last word is the final status.

Failures: 5xx/429/transport errors are retried in the HTTP client, then the message is nakked
with the server's delay (RetryLater); 4xx answers become NotificationFailed; nothing crashes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, datetime

import structlog

from adapters.runtime.keyed_locks import KeyedLocks
from adapters.runtime.retrying import retry_outages
from adapters.runtime.structured_logging import get_logger
from adapters.runtime.tasks import stop_task
from api.repositoryconnection import RepositoryConnection
from events.run import RunAccepted, RunEvent, RunFinished, RunRejected
from events.subjects import run_events_subjects
from ports.bus import Bus, Received, RetryLater, StopSignal, run_events, run_history
from ports.http import ApiUnavailable
from ports.resources import StoreError
from projections.run_progress import RunProgress, fold_run
from services.notifier.chatting import ChatNotifier
from services.notifier.commands import CommandDecider, serve_commands
from services.notifier.registering import Registrar
from services.notifier.reporting import StatusReporter
from services.notifier.statuses import report_for

DURABLE = "notifier"
#: What handle() acts on: nothing else is delivered to the durable (nor acked by it).
HANDLED = run_events_subjects(RunAccepted, RunFinished, RunRejected)
log = get_logger()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Notifier:
    def __init__(self, bus: Bus, statuses: StatusReporter, chats: ChatNotifier) -> None:
        self.bus, self.statuses, self.chats = bus, statuses, chats
        self._runs = KeyedLocks()  # one run's transitions one at a time

    async def handle(self, received: Received) -> None:
        """Consumer handler: report what a RunAccepted, RunFinished or RunRejected calls for."""
        event = received.event
        if not isinstance(event, RunAccepted | RunFinished | RunRejected):
            return
        structlog.contextvars.bind_contextvars(run=event.run, seq=received.seq)
        try:
            async with self._runs.held(event.uid):
                await self._handle(event)
        except ApiUnavailable as e:
            raise RetryLater(str(e), delay=max(e.retry_after, 1.0)) from e

    async def _handle(self, event: RunAccepted | RunFinished | RunRejected) -> None:
        run = await self._facts(event)
        if isinstance(event, RunRejected):
            await self._final(run, again=False)
            return
        if isinstance(event, RunFinished):
            await self._final(run, again=False)
            await self.chats.finished(run, event)
            return
        pending = report_for(event)
        if run.ended is not None or pending is None:
            return  # the run already ended: its final status is what the commit should show
        if await self.statuses.report(run, pending):
            await self._final(await self._facts(event), again=True)

    async def _final(self, run: RunProgress, *, again: bool) -> None:
        if run.ended is None:
            return
        final = report_for(run.ended)
        assert final is not None
        await self.statuses.report(run, final, again=again)

    async def _facts(self, event: RunEvent) -> RunProgress:
        history = await run_history(self.bus, event.namespace, event.run, event.uid)
        return fold_run(run_events(history), event.uid)


async def serve(
    notifier: Notifier,
    registrar: Registrar | None,
    stop: StopSignal,
    concurrency: int,
    resync_seconds: float,
    commands: CommandDecider | None = None,
) -> None:
    """Run the consumers (run events; comment commands when given), and the registrar's watch
    and resync, until `stop` is set."""
    async with asyncio.TaskGroup() as tasks:
        handler = retry_outages(notifier.handle)
        consumer = tasks.create_task(
            notifier.bus.consume(DURABLE, HANDLED, handler, stop, concurrency)
        )
        if commands is not None:
            tasks.create_task(serve_commands(commands.bus, commands, stop))
        helpers = []
        if registrar is not None:
            helpers = [
                tasks.create_task(_watch(registrar)),
                tasks.create_task(_resync(registrar, resync_seconds)),
            ]
        await stop.wait()
        for helper in helpers:
            await stop_task(helper)
        await consumer


async def _watch(registrar: Registrar) -> None:
    async for change in registrar.store.watch(RepositoryConnection):
        if change.type != "DELETED" and isinstance(change.object, RepositoryConnection):
            await _guarded(registrar.on_connection(change.object))


async def _resync(registrar: Registrar, seconds: float) -> None:
    while True:
        await asyncio.sleep(seconds)
        await _guarded(registrar.resync())


async def _guarded(work: Awaitable[None]) -> None:
    """Registration is best effort: a store failure is logged and the next pass tries again."""
    try:
        await work
    except StoreError as e:
        log.warning("notifier.registration_failed", error=f"{type(e).__name__}: {e}")
