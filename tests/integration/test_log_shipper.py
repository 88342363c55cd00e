"""The log-shipper service (services/log_shipper) in-process against a real nats-server, the NATS KV
resource store and a file:// object store, with step logs written the way the local runner writes
them (steps.runner_files).

Covers: a step's log is stored whole and masked (the secret raw, base64-encoded and URL-encoded,
also split across writes), LogShipped is published once with the object's URL and size, live
masked lines arrive on core NATS; a shipper stopped mid-stream leaves no object and, restarted,
ships the whole log from byte 0; a long step does not hold back a short one (concurrent shipping);
a missing secret masks nothing for it but the log is still shipped.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import nats
import pytest
from nats.aio.msg import Msg

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfigSpec, SecretEnv, Step
from api.secret import Secret
from events.run import LogShipped, RunAccepted, StepStarted
from events.subjects import live_log_subject, run_subject
from ports.objects import ObjectNotFound
from services.log_shipper.__main__ import main
from services.log_shipper.config import ShipperSettings
from steps.plans import StepRef
from steps.runner_files import step_exit_path, step_log_path
from tests.integration.conftest import bus_settings, eventually
from tests.support import runs

SECRET = "hunter2-Secret/Value"
DEADLINE = 10.0


class World:
    """A run with two steps referencing a secret, the shipper's settings, and what tests look at."""

    def __init__(self, server: NatsServer, tmp: Path, bus: NatsBus, store: KvStore) -> None:
        self.bus, self.store = bus, store
        self.settings = ShipperSettings(
            nats_url=server.url,
            home=str(tmp / "home"),
            log_store=(tmp / "objects").as_uri(),
            poll_seconds=0.02,
            retry_seconds=0.2,
        )
        self.objects_dir = tmp / "objects"
        self.live: list[bytes] = []

    def ref(self, step: str) -> StepRef:
        return StepRef(namespace=runs.NS, run=runs.RUN, uid=runs.UID, step=step, job_name="")

    def append(self, step: str, data: bytes) -> None:
        path = step_log_path(self.settings.home, self.ref(step))
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("ab") as f:
            f.write(data)

    def finish(self, step: str, code: int = 0) -> None:
        path = step_exit_path(self.settings.home, self.ref(step))
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(f"{code}\n")
        tmp.replace(path)

    def stored(self, step: str) -> bytes:
        path = self.objects_dir / runs.NS / runs.RUN / runs.UID / f"{step}.log"
        if not path.exists():
            raise ObjectNotFound(str(path))
        return path.read_bytes()

    async def shipped(self) -> list[LogShipped]:
        history = await self.bus.history(run_subject(runs.NS, runs.RUN))
        return [r.event for r in history if isinstance(r.event, LogShipped)]

    async def start_steps(self, *steps: str) -> None:
        for second, step in enumerate(steps, start=2):
            await self.bus.publish(StepStarted(step=step, **runs.ident(second)))


@pytest.fixture
async def world(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[World]:
    bus = await NatsBus.connect(bus_settings(nats_server))
    await bus.ensure_streams()
    store = await KvStore.connect(bus_settings(nats_server))
    secret = Secret(metadata=ObjectMeta(name="creds", namespace=runs.NS), string_data={"token": SECRET})
    await store.create(secret)
    steps = [
        Step(name=n, image="alpine", commands=["true"], secrets=[SecretEnv(secret_ref="creds", key="token")])
        for n in ("build", "test")
    ]
    steps.append(
        Step(name="lint", image="alpine", commands=["true"], secrets=[SecretEnv(secret_ref="gone", key="x")])
    )
    snapshot = PipelineConfigSpec(repository="https://example.com/org/app", steps=steps)
    await bus.publish(runs.requested(0))
    await bus.publish(RunAccepted(config=runs.CONFIG, snapshot=snapshot, **runs.ident(1)))
    w = World(nats_server, tmp_path, bus, store)
    raw = await nats.connect(nats_server.url)

    async def collect(msg: Msg) -> None:
        w.live.append(msg.data)

    await raw.subscribe(live_log_subject(runs.NS, runs.RUN, "*"), cb=collect)
    yield w
    await raw.close()
    await store.close()
    await bus.close()


class Service:
    """The shipper's main running in a task, stopped through its stop event."""

    def __init__(self, settings: ShipperSettings) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(main(self.stop, settings))

    async def halt(self) -> None:
        self.stop.set()
        await asyncio.wait_for(self.task, DEADLINE)


def secret_forms() -> bytes:
    """The secret as steps print it: raw, in a Basic auth header, URL-encoded."""
    basic = base64.b64encode(f"user:{SECRET}".encode())
    return (
        f"token={SECRET}\n".encode()
        + b"Authorization: Basic "
        + basic
        + b"\n"
        + f"GET /?t={quote(SECRET, safe='')}\n".encode()
    )


async def test_step_log_is_shipped_masked_whole_and_live(world: World) -> None:
    """The object is the whole log with every form of the secret masked; LogShipped once; live lines."""
    data = b"starting\n" + secret_forms() + b"\xff binary \xfe\ndone"
    cut = data.index(b"Basic ") + 10  # inside the encoded secret: live output stops before it
    world.append("build", data[:cut])
    service = Service(world.settings)
    await world.start_steps("build")
    await eventually(lambda: _true(world.live == [b"starting\n"]))
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
    await eventually(lambda: _true(b"first half\n" in world.live))
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


async def test_missing_secret_masks_nothing_but_ships(world: World) -> None:
    """A step referencing a secret that does not exist still gets its log shipped, unmasked text intact."""
    world.append("lint", b"no secrets here\n")
    world.finish("lint")
    service = Service(world.settings)
    await world.start_steps("lint")
    await eventually(world.shipped)
    assert world.stored("lint") == b"no secrets here\n"
    await service.halt()


async def _true(value: bool) -> bool:
    return value


async def _len_at_least(get: object, n: int) -> bool:
    assert callable(get)
    return len(await get()) >= n
