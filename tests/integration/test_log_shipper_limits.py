"""The log-shipper's masking scope, raw-file cleanup, log cap and live batching (issue 12), against
a real nats-server and KV store, with step files written the way the local runner writes them.

Covers: a step that references no secret still has every secret of the run masked (a value passed
through a shared file); a Secret re-applied with a new value after the step started still has the
start-time value masked (the runner's snapshot), and the new one too; the raw log is removed once
LogShipped is published and the run's snapshots once RunFinished is; a log beyond max_log_bytes is
stored cut with a marker line; live output of many short lines arrives in few messages, whole.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.secret import Secret
from events.run import RunFinished
from services.log_shipper.shipping import truncated_marker
from services.runner.step_files import StepFiles, write_mask_snapshot
from tests.integration.conftest import eventually
from tests.support import runs
from tests.support.shipper_world import SECRET, Service, World, shipper_world

NEW_VALUE = "rotated-Value-2027"


@pytest.fixture
async def world(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[World]:
    async with shipper_world(nats_server, tmp_path, max_log_bytes=4096) as made:
        yield made


def files(world: World, step: str) -> StepFiles:
    return StepFiles.of(world.settings.home, world.ref(step))


async def ship_one(world: World, step: str, data: bytes) -> bytes:
    """Write the step's whole output, have it shipped, return what was stored."""
    world.append(step, data)
    world.finish(step)
    service = Service(world.settings)
    await world.start_steps(step)
    await eventually(world.shipped)
    await service.halt()
    return world.stored(step)


async def test_another_steps_secret_is_masked(world: World) -> None:
    """`lint` references no existing secret, yet prints the value `build` was given: masked."""
    stored = await ship_one(world, "lint", b"from the shared file: " + SECRET.encode() + b"\n")
    assert stored == b"from the shared file: ***\n"


async def test_secret_reapplied_after_start_keeps_the_start_value_masked(world: World) -> None:
    """The runner's start-time snapshot masks the old value after the Secret was re-applied."""
    write_mask_snapshot(files(world, "build"), {"TOKEN": SECRET}, None)
    rotated = Secret(metadata=ObjectMeta(name="creds", namespace=runs.NS), string_data={"token": NEW_VALUE})
    await world.store.apply(rotated)
    stored = await ship_one(world, "build", f"old={SECRET}\nnew={NEW_VALUE}\n".encode())
    assert stored == b"old=***\nnew=***\n"


async def test_raw_log_goes_once_shipped_and_snapshots_once_the_run_finished(world: World) -> None:
    """After LogShipped the raw log is gone; after RunFinished the run's snapshot files are gone."""
    build = files(world, "build")
    write_mask_snapshot(build, {"TOKEN": SECRET}, None)
    world.append("build", b"hello\n")
    world.finish("build")
    service = Service(world.settings)
    await world.start_steps("build")
    await eventually(world.shipped)
    await eventually(lambda: _gone(build.log))
    assert build.mask.exists()
    finished = RunFinished(config=runs.CONFIG, phase="Succeeded", reason="Succeeded", **runs.ident(9))
    await world.bus.publish(finished)
    await eventually(lambda: _gone(build.mask))
    await service.halt()
    assert world.stored("build") == b"hello\n"


async def test_log_beyond_the_cap_is_cut_with_a_marker(world: World) -> None:
    """With max_log_bytes 4096, 10 000 bytes are stored as their first 4096 and a marker line."""
    data = b"".join(b"line %05d\n" % i for i in range(1000))
    stored = await ship_one(world, "build", data)
    assert stored == data[:4096] + b"\n" + truncated_marker(4096)
    assert [s.bytes for s in await world.shipped()] == [len(stored)]


async def test_short_lines_are_published_in_batches(world: World) -> None:
    """300 short lines reach the live subject whole, in far fewer messages than lines."""
    data = b"".join(b"%d\n" % i for i in range(300))
    stored = await ship_one(world, "build", data)
    await eventually(lambda: _true(b"".join(world.live) == stored == data))
    assert len(world.live) < 30


async def _gone(path: Path) -> bool:
    return not await asyncio.to_thread(path.exists)


async def _true(value: bool) -> bool:
    return value
