"""What the notifier knows about one run, folded from the run's history: pure.

The history of the run's subject (filtered to the run's uid) gives the commit, branch and matrix
(RunRequested), the config and its repository (RunAccepted), the final phase (RunFinished), and
which notifications were already settled (NotificationSent or NotificationFailed). The last is
the notifier's only memory: a settled (channel, transition) is never reported again, whichever
process or replica settled it.
"""

from __future__ import annotations

from collections.abc import Iterable

from msgspec import Struct, field
from msgspec.structs import replace

from events.notification import Channel, NotificationEvent, Transition
from events.run import RunEvent, RunFinished
from projections import run_context
from projections.run_context import RunContext

Settled = tuple[Channel, Transition]


class RunFacts(Struct, frozen=True, kw_only=True):
    ctx: RunContext = field(default_factory=RunContext)
    finished: RunFinished | None = None
    settled: frozenset[Settled] = frozenset()

    @property
    def commit(self) -> str:
        return self.ctx.spec.commit if self.ctx.spec is not None else ""

    @property
    def repository(self) -> str:
        return self.ctx.snapshot.repository if self.ctx.snapshot is not None else ""

    def is_settled(self, channel: Channel, transition: Transition) -> bool:
        return (channel, transition) in self.settled


def evolve(facts: RunFacts, event: RunEvent) -> RunFacts:
    if isinstance(event, NotificationEvent):
        return replace(facts, settled=facts.settled | {(event.channel, event.transition)})
    if isinstance(event, RunFinished) and facts.finished is None:
        facts = replace(facts, finished=event)
    return replace(facts, ctx=run_context.evolve(facts.ctx, event))


def fold(events: Iterable[RunEvent], uid: str) -> RunFacts:
    """The facts of the run `uid` (events of an earlier run with the same name are skipped)."""
    facts = RunFacts()
    for event in events:
        if event.uid == uid:
            facts = evolve(facts, event)
    return facts
