"""Which stored messages reach a reader: a catalog event on its own subject, nothing else.

Invariant: an undecodable body, or an event whose type, namespace or run differ from its subject's
(events.subjects.on_its_subject: published by an identity allowed that subject, not that fact), is
logged and never handed to a consumer's handler, a history or next_after.
"""

from __future__ import annotations

from structlog.typing import FilteringBoundLogger

from events.codec import AnyEvent, UndecodableEvent, decode
from events.subjects import on_its_subject


def trusted(data: bytes, subject: str, seq: int, log: FilteringBoundLogger, where: str) -> AnyEvent | None:
    """The event in `data` stored on `subject`, or None (logged as `<where>.undecodable` or
    `<where>.misplaced`)."""
    try:
        event = decode(data)
    except UndecodableEvent as e:
        log.error(f"{where}.undecodable", seq=seq, subject=subject, error=str(e))
        return None
    if not on_its_subject(event, subject):
        log.error(f"{where}.misplaced", seq=seq, subject=subject, type=event.type)
        return None
    return event
