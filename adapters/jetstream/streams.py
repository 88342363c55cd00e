"""The JetStream streams of the catalog, and which stream holds a subject.

ensure_streams() creates or updates both streams idempotently (safe to call from every process at
start-up): file storage, a dedupe window so Nats-Msg-Id makes publishes idempotent, a size limit
per message, and byte and age limits (adapters/jetstream/limits.py, docs/operations.md) past which
the oldest messages are discarded. Streams are never purged here: the stream is the history, for
as long as the limits keep it.
"""

from __future__ import annotations

from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import NotFoundError

from adapters.jetstream.errors import translated
from adapters.jetstream.limits import STREAM_LIMITS
from adapters.jetstream.settings import BusSettings
from events.subjects import RUN_STREAM, RUN_SUBJECTS, WEBHOOK_STREAM, WEBHOOK_SUBJECTS

#: stream name -> its subject filter; the prefix before '>' tells which stream holds a subject.
STREAMS: dict[str, str] = {RUN_STREAM: RUN_SUBJECTS, WEBHOOK_STREAM: WEBHOOK_SUBJECTS}


def stream_config(name: str, settings: BusSettings) -> StreamConfig:
    return StreamConfig(
        name=name,
        subjects=[STREAMS[name]],
        storage=StorageType.FILE,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        max_bytes=STREAM_LIMITS[name].max_bytes,
        max_age=STREAM_LIMITS[name].max_age,
        duplicate_window=settings.duplicate_window,
        max_msg_size=settings.max_msg_size,
        allow_direct=True,
        num_replicas=settings.stream_replicas,
    )


def stream_of(subjects: Sequence[str]) -> str:
    """The one stream holding every subject (a consumer reads a single stream)."""
    names = {_stream_of(s) for s in subjects}
    if len(names) != 1:
        raise ValueError(f"subjects {list(subjects)} must all belong to one stream of {sorted(STREAMS)}")
    return names.pop()


def _stream_of(subject: str) -> str:
    for name, pattern in STREAMS.items():
        prefix = pattern.removesuffix(">")
        if subject.startswith(prefix) and len(subject) > len(prefix):
            return name
    raise ValueError(f"subject {subject!r} is in no c8s stream ({', '.join(STREAMS.values())})")


async def ensure_streams(js: JetStreamContext, settings: BusSettings) -> None:
    for name in STREAMS:
        await ensure_stream(js, name, settings)


async def ensure_stream(js: JetStreamContext, name: str, settings: BusSettings) -> None:
    """Create the stream when missing; bring an existing one's configuration up to date when it
    differs and this identity manages streams (others use it as it is: they may not update it)."""
    config = stream_config(name, settings)
    async with translated(f"ensure stream {name}"):
        try:
            current = (await js.stream_info(name)).config
        except NotFoundError:
            await js.add_stream(config)
            return
        if settings.manage_streams and _differs(current, config):
            await js.update_stream(config)


def _differs(current: StreamConfig, wanted: StreamConfig) -> bool:
    fields = ("subjects", "duplicate_window", "max_msg_size", "allow_direct", "num_replicas", "max_bytes")
    if (current.max_age or 0) != (wanted.max_age or 0):
        return True
    return any(getattr(current, f) != getattr(wanted, f) for f in fields)
