"""The log-shipper process: the durable consumer `log-shipper` of run events.

On StepStarted: the run's context is folded from its history (the config it was accepted with,
hence every secret reference of the run); the step's output is followed from byte 0 through the
StepLogs port, masked (steps.masking), cut at `max_log_bytes` (a marker line says so), streamed
into object storage under `<namespace>/<run>/<uid>/<step>.log` and published in batches of lines
on the live subject (what the masker held back goes live once the step has been quiet for
`quiet_seconds`, unless it may be a secret's start); once the output ended, LogShipped{url,
bytes} is published, the raw output released (StepLogs.release: local mode deletes the raw log)
and the message acked.
On RunFinished the run's start-time secret snapshots are released (StepLogs.release_run).

What a step's log is masked with (services/log_shipper/secrets.py): the values of *every* secret
the run's config references (any step's `secrets`, and the run's git credentials), not only the
step's own (a step can print a value another step wrote to a shared file), as read now, plus the
values the run's steps were given when they started (StepLogs.start_secrets: in local mode the
runner records them in a 0600 snapshot before StepStarted). So a Secret re-applied with a new
value after a step started, while the shipper lagged, still has its old value masked. Kubernetes
mode has no start-time snapshot: there the values are those read when StepStarted is handled.

Invariants:
- Nothing unmasked leaves: a step whose context cannot be planned, or whose namespace's Secrets
  c8s may not read (not onboarded: logged with the fix), is retried later, never shipped with an
  empty secret list.
- Nothing is lost: the message stays unacked (kept in progress by the consumer's heartbeat) until
  LogShipped is stored. A crash or stop at any point redelivers StepStarted and the log is shipped
  again from byte 0, replacing the object; LogShipped's Nats-Msg-Id (uid, type, step) dedupes, and
  a StepStarted whose LogShipped is already in the history is acked without shipping again.
- Several steps ship at once (consume concurrency), each in its own task, acked when done.
- One step ships once at a time in a process: a StepStarted redelivered while its first delivery
  is still shipping (a consumer rebuilt after nats-server restarted hands the unacked message out
  again) waits for the first, then finds its LogShipped and acks. Without this the second copy
  read the raw output the first had just released and replaced the stored log with an empty one.
  Across replicas the consumer's in-progress heartbeat keeps a second copy away, and when one gets
  through anyway (both replicas' consumers rebuilt at once) the copy checks the history again
  before its object becomes visible (shipping.ship `still_wanted`): if the step's LogShipped is
  there by then, it drops what it wrote and acks, so it never replaces the complete log.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import structlog

from adapters.runtime.keyed_locks import KeyedLocks
from events.run import LogShipped, RunEvent, RunFinished, StepStarted
from events.subjects import run_events_subjects
from ports.bus import Bus, Received, RetryLater, StopSignal, run_events, run_history
from ports.execution import StepLogs
from ports.live import LiveLog
from ports.objects import ObjectStore, ObjectStoreUnavailable
from ports.resources import NotOnboarded, ResourceStore, StoreUnavailable
from projections.run_context import RunContext
from projections.run_progress import fold_run
from services.log_shipper.config import DEFAULT_MAX_LOG_BYTES, DEFAULT_QUIET_SECONDS
from services.log_shipper.secrets import secret_values
from services.log_shipper.shipping import Shipped, ship
from steps.masking import Masker
from steps.plans import StepPlan, plan

log = structlog.get_logger(__name__)
DURABLE = "log-shipper"
#: What handle() acts on: nothing else is delivered to the durable (nor acked by it).
HANDLED = run_events_subjects(StepStarted, RunFinished)


class Shipper:
    def __init__(
        self,
        *,
        bus: Bus,
        store: ResourceStore,
        objects: ObjectStore,
        logs: StepLogs,
        live: LiveLog,
        retry_seconds: float,
        max_log_bytes: int = DEFAULT_MAX_LOG_BYTES,
        quiet_seconds: float = DEFAULT_QUIET_SECONDS,
    ) -> None:
        self.bus, self.store, self.objects, self.logs, self.live = bus, store, objects, logs, live
        self.retry_seconds, self.max_log_bytes = retry_seconds, max_log_bytes
        self.quiet_seconds = quiet_seconds
        self._shipping = KeyedLocks()  # a second delivery of a StepStarted waits for the first

    async def handle(self, received: Received) -> None:
        event = received.event
        if isinstance(event, StepStarted):
            with structlog.contextvars.bound_contextvars(run=event.run, step=event.step, seq=received.seq):
                await self.on_started(event)
        elif isinstance(event, RunFinished):
            await self.logs.release_run(event.namespace, event.run, event.uid)

    async def on_started(self, event: StepStarted) -> None:
        async with self._shipping.held((event.uid, event.step)):
            await self._on_started(event)

    async def _on_started(self, event: StepStarted) -> None:
        history = await self._history(event)
        ctx = self._context(history, event)
        step_plan = self._plan(ctx, event)
        if _shipped(history, event.step):
            await self.logs.release(step_plan.ref)
            return
        try:
            values = await self._mask_values(ctx, step_plan)
            shipped = await self._ship(step_plan, Masker(values), lambda: self._unshipped(event))
        except (StoreUnavailable, ObjectStoreUnavailable) as e:
            raise RetryLater(str(e), self.retry_seconds) from e
        except NotOnboarded as e:
            log.error("log_shipper.not_onboarded", error=str(e))
            raise RetryLater(str(e), self.retry_seconds) from e
        if shipped is None:
            log.info("log_shipper.shipped_by_another_delivery")
            return
        await self.bus.publish(
            LogShipped(
                at=datetime.now(UTC),
                namespace=event.namespace,
                run=event.run,
                uid=event.uid,
                step=event.step,
                url=shipped.url,
                bytes=shipped.bytes,
            )
        )
        await self.logs.release(step_plan.ref)
        log.info("log_shipper.shipped", url=shipped.url, bytes=shipped.bytes, secrets=len(values))

    async def _mask_values(self, ctx: RunContext, step_plan: StepPlan) -> list[bytes]:
        """Every secret value of the run: as the steps got them when they started, and as now."""
        refs = [ref for step in (ctx.snapshot.steps if ctx.snapshot else []) for ref in step.secrets]
        now = await secret_values(self.store, step_plan.ref.namespace, refs, step_plan.auth_secret_ref)
        return [*await self.logs.start_secrets(step_plan.ref), *now]

    async def _ship(
        self, step_plan: StepPlan, masker: Masker, still_wanted: Callable[[], Awaitable[bool]]
    ) -> Shipped | None:
        ref = step_plan.ref
        writer = await self.objects.writer(f"{ref.namespace}/{ref.run}/{ref.uid}/{ref.step}.log")
        source = self.logs.follow(ref)
        return await ship(
            ref, source, masker, writer, self.live, self.max_log_bytes, self.quiet_seconds, still_wanted
        )

    async def _unshipped(self, event: StepStarted) -> bool:
        """No LogShipped of the step in the run's history (yet)."""
        return not _shipped(await self._history(event), event.step)

    async def _history(self, event: StepStarted) -> list[RunEvent]:
        return run_events(await run_history(self.bus, event.namespace, event.run, event.uid))

    def _context(self, history: list[RunEvent], event: StepStarted) -> RunContext:
        return fold_run(history, event.uid).ctx

    def _plan(self, ctx: RunContext, event: StepStarted) -> StepPlan:
        try:
            return plan(ctx, event.step)
        except (KeyError, ValueError) as e:
            log.error("log_shipper.unplanned", error=repr(e))
            raise RetryLater(f"cannot plan step {event.step}: {e!r}", self.retry_seconds) from e


def _shipped(history: list[RunEvent], step: str) -> bool:
    return any(isinstance(e, LogShipped) and e.step == step for e in history)


async def serve(shipper: Shipper, stop: StopSignal, concurrency: int) -> None:
    """Ship the log of every started step until `stop` is set."""
    await shipper.bus.consume(DURABLE, HANDLED, shipper.handle, stop, concurrency=concurrency)
