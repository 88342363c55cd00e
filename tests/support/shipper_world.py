"""The log-shipper's test world: a run with three steps on a real bus and KV store, the shipper
in-process, and step logs written the way the local runner writes them (steps.runner_files)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import nats
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
from tests.integration.conftest import bus_settings
from tests.support import runs

SECRET = "hunter2-Secret/Value"
DEADLINE = 10.0


class World:
    """A run with two steps referencing a secret, the shipper's settings, and what tests look at."""

    def __init__(
        self, server: NatsServer, tmp: Path, bus: NatsBus, store: KvStore, **settings: object
    ) -> None:
        self.bus, self.store = bus, store
        self.settings = ShipperSettings(
            nats_url=server.url,
            home=str(tmp / "home"),
            log_store=(tmp / "objects").as_uri(),
            poll_seconds=0.02,
            retry_seconds=0.2,
            **settings,  # type: ignore[arg-type]
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


@contextlib.asynccontextmanager
async def shipper_world(nats_server: NatsServer, tmp_path: Path, **settings: object) -> AsyncIterator[World]:
    """The run accepted (build and test reference creds/token, lint only a missing Secret)."""
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
    w = World(nats_server, tmp_path, bus, store, **settings)
    raw = await nats.connect(nats_server.url)

    async def collect(msg: Msg) -> None:
        w.live.append(msg.data)

    await raw.subscribe(live_log_subject(runs.NS, runs.RUN, "*"), cb=collect)
    try:
        yield w
    finally:
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
