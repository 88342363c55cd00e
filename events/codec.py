"""One codec for the whole catalog: JSON on the wire, decoded once at the edge.

The Decoder and Encoder are built once at import; decoding an unknown tag or a malformed body raises
UndecodableEvent (the bus adapter terms such a message and keeps it for inspection). Unknown
fields are ignored, so producers may add fields before consumers learn them.
"""

from __future__ import annotations

from typing import TypeAlias

import msgspec

from events.command import CommandEvents
from events.notification import NotificationEvents
from events.run import RunEvents
from events.webhook import WebhookEvents

AnyEvent: TypeAlias = RunEvents | NotificationEvents | WebhookEvents | CommandEvents

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)


class UndecodableEvent(ValueError):
    """A message body is not an event of the catalog (bad JSON, unknown type, wrong field type)."""


def encode(event: AnyEvent) -> bytes:
    return _encoder.encode(event)


def decode(data: bytes) -> AnyEvent:
    try:
        return _decoder.decode(data)
    except msgspec.DecodeError as e:
        raise UndecodableEvent(str(e)) from e


def catalog() -> tuple[type[AnyEvent], ...]:
    """Every concrete event type, in a stable order."""
    unions = (RunEvents, NotificationEvents, WebhookEvents, CommandEvents)
    return tuple(member for union in unions for member in _members(union))


def _members(union: object) -> list[type[AnyEvent]]:
    return list(union.__args__)  # type: ignore[attr-defined]
