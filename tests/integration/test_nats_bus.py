"""What the NATS adapter adds beyond the port's contract, against a real nats-server.

Covers: ensure_streams is idempotent and sets file storage, the dedupe window and the message size
limit; stored messages carry Nats-Msg-Id and the CloudEvents headers; an oversized event is
refused with BusRejected; publishing while the server is down raises BusUnavailable; a history
read whose server goes away mid-read raises BusUnavailable instead of returning part of it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from nats.js.api import AckPolicy, ConsumerConfig, StorageType

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.replay import BATCH, read_to_end
from events.run import StepFinished
from events.subjects import RUN_STREAM, WEBHOOK_STREAM, message_id
from ports.bus_errors import BusRejected, BusUnavailable
from tests.integration.conftest import NatsHarness
from tests.integration.test_bus_contract import publish_eventually

EVENT = StepFinished(
    at=datetime(2026, 1, 1, tzinfo=UTC), namespace="ns", run="r", uid="u", step="s", exit_code=0
)


@pytest.fixture
def nats(harness: NatsHarness) -> NatsHarness:
    return harness


async def test_ensure_streams_is_idempotent_with_settings(nats: NatsHarness) -> None:
    """A second ensure_streams changes nothing; both streams are file-backed with dedupe and a size cap."""
    assert isinstance(nats.bus, NatsBus)
    await nats.bus.ensure_streams()
    js = nats.raw.jetstream()
    for name in (RUN_STREAM, WEBHOOK_STREAM):
        config = (await js.stream_info(name)).config
        assert config.storage == StorageType.FILE
        assert config.duplicate_window == 600
        assert config.max_msg_size == 1024 * 1024


async def test_stored_message_has_cloudevents_headers(nats: NatsHarness) -> None:
    """The stored message carries Nats-Msg-Id and ce-specversion/type/source/id."""
    seq = await nats.bus.publish(EVENT)
    msg = await nats.raw.jetstream().get_msg(RUN_STREAM, seq)
    mid = message_id(EVENT)
    assert msg.headers is not None
    assert {
        k: msg.headers[k] for k in ("Nats-Msg-Id", "ce-specversion", "ce-type", "ce-source", "ce-id")
    } == {
        "Nats-Msg-Id": mid,
        "ce-specversion": "1.0",
        "ce-type": "step.finished",
        "ce-source": "c8s/tests",
        "ce-id": mid,
    }


async def test_oversized_event_is_rejected(nats: NatsHarness) -> None:
    """An event above the server's payload limit is refused as BusRejected, not a nats-py error."""
    big = msgspec.structs.replace(EVENT, message="x" * (2 * 1024 * 1024))
    with pytest.raises(BusRejected):
        await nats.bus.publish(big)


async def test_publish_while_server_down_is_unavailable(nats: NatsHarness) -> None:
    """With the server stopped, publish fails with BusUnavailable; once it is back, publish works."""
    await nats.stop_server()
    with pytest.raises(BusUnavailable):
        await nats.bus.publish(EVENT)
    await nats.start_server()
    assert await publish_eventually(nats.bus, [EVENT]) == [1]


async def test_replay_whose_server_goes_away_is_unavailable(nats: NatsHarness) -> None:
    """The replay reader (history's) stops the server at its first message: it raises
    BusUnavailable within 1.5 request expiries, having taken only part of the stream."""
    events = [
        msgspec.structs.replace(EVENT, step=f"s{i}", at=EVENT.at + timedelta(seconds=i))
        for i in range(2 * BATCH)
    ]
    for i in range(0, len(events), 500):
        await nats.bus.publish_many(events[i : i + 500])
    js = nats.raw.jetstream()
    await js.add_consumer(RUN_STREAM, ConsumerConfig(name="replay", ack_policy=AckPolicy.NONE))
    taken: list[int] = []

    def take(subject: str, data: bytes, seq: int) -> None:
        if not taken:
            nats.server.stop()
        taken.append(seq)

    assert isinstance(nats.bus, NatsBus)
    began = time.monotonic()
    with pytest.raises(BusUnavailable):
        await read_to_end(nats.bus.connection.client, RUN_STREAM, "replay", len(events), take, expires=1.0)
    assert time.monotonic() - began < 5.0
    assert 0 < len(taken) < len(events) and taken == list(range(1, len(taken) + 1))
    await nats.start_server()
