"""The event bus port: durable, ordered, deduplicated event streams (JetStream in every mode).

Contract (checked by tests/integration/test_bus_contract.py against every adapter):
- publish is idempotent per message id (events.subjects.message_id): publishing the same fact twice
  stores it once and returns the same stream sequence;
- a consumer is durable: after a crash or restart it resumes after the last acked message;
- a handler that returns normally acks; one that raises RetryLater is redelivered after the delay;
- a handler may run longer than the adapter's ack wait: while it runs its message is kept in
  progress (not redelivered); if the process dies, the message is redelivered;
- consume(..., concurrency=N) runs up to N handlers at once, each message settled when its own
  handler returns, in no order between them; on stop, handlers still running are cancelled and
  their messages redelivered (handlers must tolerate cancellation);
  a body that is not a catalog event is terminated (kept in the stream for inspection) and never
  reaches a handler; any other exception propagates and stops the consumer (crash, restart);
- history(subject) replays every stored event on a subject in order, without a durable consumer;
  next_after(subject, seq) is the first stored event on a subject above a sequence (or None), read
  from the stream's authority: everything stored on the subject up to its answer is visible;
  a run's subject is the wildcard events.subjects.run_subject (`c8s.run.<ns>.<run>.>`, across its
  typed subjects), and each Received names the subject its event is stored on;
- consume(..., serial=True): at most one message of the durable is in flight, across every process
  bound to it, so events arrive in stream order even across retries (RetryLater) and replicas.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from msgspec import Struct

from events.codec import AnyEvent
from events.run import RunEvent
from events.subjects import run_subject


class Received(Struct, frozen=True, kw_only=True):
    """An event as stored: `seq` is its stream sequence (monotonic, the fold's position)."""

    event: AnyEvent
    seq: int
    subject: str
    delivered: int = 1


class RetryLater(Exception):
    """Raised by a handler for a failure that may pass (a conflict, a dependency briefly down)."""

    def __init__(self, reason: str, delay: float = 1.0) -> None:
        super().__init__(reason)
        self.delay = delay


Handler = Callable[[Received], Awaitable[None]]


class StopSignal(Protocol):
    """What a consumer loop waits on to stop (asyncio.Event fits)."""

    def is_set(self) -> bool: ...

    async def wait(self) -> bool | None: ...


class Bus(Protocol):
    async def publish(self, event: AnyEvent) -> int:
        """Store the event (awaiting the server's ack); returns its stream sequence."""
        ...

    async def publish_many(self, events: Sequence[AnyEvent]) -> list[int]:
        """Pipelined publish of a burst; all acks awaited; sequences in input order."""
        ...

    async def consume(
        self,
        durable: str,
        subjects: Sequence[str],
        handler: Handler,
        stop: StopSignal,
        concurrency: int = 1,
        *,
        serial: bool = False,
    ) -> None:
        """Feed every event on `subjects` to `handler` through the durable consumer `durable`,
        in stream order per subject (concurrency 1), until `stop` is set; `serial`: one message in
        flight across every process on the durable, strictly in stream order."""
        ...

    async def history(self, subject: str) -> list[Received]:
        """Every stored event on `subject` (wildcards allowed), in stream order."""
        ...

    async def next_after(self, subject: str, after: int) -> Received | None:
        """The first stored event on `subject` (wildcards allowed) with a sequence above `after`."""
        ...

    @property
    def is_connected(self) -> bool:
        """Whether the bus reaches its server right now (for readiness)."""
        ...

    async def close(self) -> None: ...


async def run_history(bus: Bus, namespace: str, run: str, uid: str) -> list[Received]:
    """The stored events of one run, in stream order: its subject's history, keeping only the run
    events of `uid` (a run deleted and re-created under the same name has another uid). Every
    service reads a run this way and folds it with projections.run_progress.fold_run."""
    stored = await bus.history(run_subject(namespace, run))
    return [r for r in stored if isinstance(r.event, RunEvent) and r.event.uid == uid]


async def unfolded(
    bus: Bus, subject: str, position: int, delivered: Received, *, ahead: bool = False
) -> list[Received]:
    """The events stored on `subject` above `position` up to and including `delivered`, in order;
    with `ahead`, also every event stored after `delivered` (to the subject's end).

    For a fold that must take every event of its subject exactly once and in order while delivery
    does neither (a message naked after an outage comes back after later ones; replicas share a
    durable): at position P, event N > P is folded together with whatever lies in (P, N). Usually
    that is nothing, and one next_after request shows it. `ahead` is for a reader that knows more
    deliveries of the subject wait behind this one: folding them now lets each of them find its
    event already covered (one request more, to find the end)."""
    between: list[Received] = []
    while (stored := await bus.next_after(subject, position)) is not None and stored.seq < delivered.seq:
        between.append(stored)
        position = stored.seq
    after: list[Received] = []
    if ahead:
        position = delivered.seq
        while (stored := await bus.next_after(subject, position)) is not None:
            after.append(stored)
            position = stored.seq
    return [*between, delivered, *after]


def run_events(history: Sequence[Received]) -> list[RunEvent]:
    """The events of a run_history (typed: run_history keeps run events only)."""
    return [r.event for r in history if isinstance(r.event, RunEvent)]
