"""Catching up on a subject: the stored events a status has not folded yet, up to a delivered one.

Invariant kept by the projector: a written status is the fold of *every* event stored on its
subject up to its observedSequence, in stream order. Delivery order does not keep it on its own:
a message naked after a store outage comes back after later ones, and two replicas share one
durable consumer. So when event N arrives for a status at position P < N, the events to fold are
all those stored on the subject in (P, N], read from the stream itself: usually N alone (one
request shows nothing lies between), else the ones a retry or another replica has not folded yet,
first. The store refuses a status behind the stored one (compare-and-set on observedSequence),
and two folds of the same history differ only in how far they got, so concurrent writers agree.
"""

from __future__ import annotations

from ports.bus import Bus, Received


async def unfolded(bus: Bus, subject: str, position: int, delivered: Received) -> list[Received]:
    """The events stored on `subject` above `position` up to and including `delivered`, in order."""
    between: list[Received] = []
    while (stored := await bus.next_after(subject, position)) is not None and stored.seq < delivered.seq:
        between.append(stored)
        position = stored.seq
    return [*between, delivered]
