"""The log-shipper service (services/log_shipper) in-process against a real nats-server, the NATS KV
resource store and a file:// object store, with step logs written the way the local runner writes
them (steps.runner_files).

Covers: a step's log is stored whole and masked (the secret raw, base64-encoded and URL-encoded,
also split across writes), LogShipped is published once with the object's URL and size, live
masked lines arrive on core NATS, and a quiet step's last line goes live while it still runs
(the masker's held-back tail released when it cannot be a secret's start); a shipper stopped
mid-stream leaves no object and, restarted, ships the whole log from byte 0; a long step does
not hold back a short one (concurrent shipping); a missing secret masks nothing for it but the
log is still shipped; a StepStarted delivered twice at once (a consumer rebuilt after nats-server
restarted) ships the log once and never replaces it with the empty rest of the released output.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters import wiring
from adapters.jetstream.server import NatsServer
from events.run import StepStarted
from ports.execution import StepLogs
from ports.objects import ObjectNotFound
from services.log_shipper.service import Shipper
from steps.plans import StepRef
from tests.integration.conftest import eventually
from tests.support import runs
from tests.support.shipper_world import SECRET, Service, World, secret_forms, shipper_world


@pytest.fixture
async def world(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[World]:
    async with shipper_world(nats_server, tmp_path) as made:
        yield made


async def test_step_log_is_shipped_masked_whole_and_live(world: World) -> None:
    """The object is the whole log with every form of the secret masked; LogShipped once; live lines."""
    data = b"starting\n" + secret_forms() + b"\xff binary \xfe\ndone"
    cut = data.index(b"Basic ") + 10  # inside the encoded secret: live output stops before it
    world.append("build", data[:cut])
    service = Service(world.settings)
    await world.start_steps("build")
    # The step is quiet: the masked whole lines go live, the encoded secret's start does not.
    await eventually(lambda: _true(b"".join(world.live) == b"starting\ntoken=***\n"))
    world.append("build", data[cut:])
    world.finish("build")
    shipped = await eventually(world.shipped)
    stored = world.stored("build")
    assert stored.startswith(b"starting\ntoken=***\nAuthorization: Basic ")
    assert stored.endswith(b"GET /?t=***\n\xff binary \xfe\ndone")
    assert SECRET.encode() not in stored and base64.b64encode(SECRET.encode())[:8] not in stored
    assert base64.b64decode(stored.split(b"Basic ")[1].split(b"***")[0] + b"==")[:5] == b"user:"
    assert [(s.step, s.bytes) for s in shipped] == [("build", len(stored))]
    assert shipped[0].url.endswith(f"{runs.NS}/{runs.RUN}/{runs.UID}/build.log")
    await eventually(lambda: _true(b"".join(world.live) == stored))
    await service.halt()
    assert len(await world.shipped()) == 1


async def test_restart_mid_stream_ships_the_whole_log(world: World) -> None:
    """A shipper stopped mid-stream leaves no object; restarted, it ships the whole log from byte 0."""
    head = b"first half\n" + b"." * 40 + b"\n"
    world.append("build", head + SECRET.encode()[:6])
    first = Service(world.settings)
    await world.start_steps("build")
    await eventually(lambda: _true(b"first half\n" in b"".join(world.live)))
    await first.halt()
    with pytest.raises(ObjectNotFound):
        world.stored("build")
    world.append("build", SECRET.encode()[6:] + b" second half\n")
    world.finish("build")
    second = Service(world.settings)
    await eventually(world.shipped)
    assert world.stored("build") == head + b"*** second half\n"
    await second.halt()
    assert [s.step for s in await world.shipped()] == ["build"]


async def test_long_step_does_not_hold_back_a_short_one(world: World) -> None:
    """While one step is still running, another that finished is shipped (concurrent shipping)."""
    world.append("build", b"still compiling\n")
    world.append("test", b"ok " + SECRET.encode() + b"\n")
    world.finish("test")
    service = Service(world.settings)
    await world.start_steps("build", "test")
    shipped = await eventually(world.shipped)
    assert [s.step for s in shipped] == ["test"]
    assert world.stored("test") == b"ok ***\n"
    world.finish("build", 1)
    await eventually(lambda: _len_at_least(world.shipped, 2))
    assert world.stored("build") == b"still compiling\n"
    await service.halt()


async def test_a_quiet_steps_last_line_goes_live_while_it_runs(world: World) -> None:
    """A line shorter than the masker's hold-back is published live once the step is quiet, before it ends."""
    world.append("build", b"compiling\n")
    service = Service(world.settings)
    await world.start_steps("build")
    await eventually(lambda: _true(b"".join(world.live) == b"compiling\n"))
    assert await world.shipped() == []  # the step still runs
    world.append("build", b"linked " + SECRET.encode()[:7])
    world.finish("build")
    await eventually(world.shipped)
    assert world.stored("build") == b"compiling\nlinked " + SECRET.encode()[:7]
    await service.halt()


async def test_missing_secret_masks_nothing_but_ships(world: World) -> None:
    """A step referencing a secret that does not exist still gets its log shipped, unmasked text intact."""
    world.append("lint", b"no secrets here\n")
    world.finish("lint")
    service = Service(world.settings)
    await world.start_steps("lint")
    await eventually(world.shipped)
    assert world.stored("lint") == b"no secrets here\n"
    await service.halt()


class GatedLogs:
    """The real step logs, except that a second follow() of a step waits for `gate`: the window in
    which a redelivered StepStarted, past its history check, reaches the output only after the
    first delivery shipped and released it."""

    def __init__(self, logs: StepLogs) -> None:
        self.logs, self.gate, self.follows = logs, asyncio.Event(), 0

    async def follow(self, ref: StepRef) -> AsyncIterator[bytes]:
        self.follows += 1
        if self.follows > 1:
            await self.gate.wait()
        async for chunk in self.logs.follow(ref):
            yield chunk

    def __getattr__(self, name: str) -> object:
        return getattr(self.logs, name)


def _gated_shipper(world: World, logs: GatedLogs) -> Shipper:
    settings = world.settings
    return Shipper(
        bus=world.bus,
        store=world.store,
        objects=wiring.open_objects(settings),
        logs=logs,  # type: ignore[arg-type]
        live=wiring.live_log(world.bus),
        retry_seconds=settings.retry_seconds,
    )


@pytest.mark.parametrize("replicas", [1, 2], ids=["one-process", "two-replicas"])
async def test_a_step_delivered_twice_at_once_ships_once_and_whole(world: World, replicas: int) -> None:
    """Two concurrent deliveries of one StepStarted, to one shipper or to two replicas: one
    LogShipped, the stored log whole (the second copy reads the output only after the first shipped
    and released it: one process serialises them, a replica drops its cut copy before it lands)."""
    logs = GatedLogs(wiring.step_logs(world.settings, world.settings.poll_seconds))
    shippers = [_gated_shipper(world, logs) for _ in range(replicas)]
    world.append("build", b"line 1\n")
    started = StepStarted(step="build", **runs.ident(2))
    first = asyncio.create_task(shippers[0].on_started(started))
    await eventually(lambda: _true(b"line 1\n" in b"".join(world.live)))  # the first one follows
    second = asyncio.create_task(shippers[-1].on_started(started))
    world.append("build", b"line 2\n")
    world.finish("build")
    await asyncio.wait_for(first, 30)
    logs.gate.set()
    await asyncio.wait_for(second, 30)  # without one-at-a-time it follows a released output
    assert world.stored("build") == b"line 1\nline 2\n"
    assert [(s.step, s.bytes) for s in await world.shipped()] == [("build", 14)]


async def _true(value: bool) -> bool:
    return value


async def _len_at_least(get: object, n: int) -> bool:
    assert callable(get)
    return len(await get()) >= n
