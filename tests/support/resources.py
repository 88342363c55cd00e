"""Builders of c8s resources for store tests, and a recorder of watch events.

The builders give one small valid object per kind, in a namespace; `watching` runs a store's watch
in a task and queues its events so a test awaits each one with a deadline instead of sleeping.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from api.secret import Secret
from ports.resources import Resource, ResourceStore, WatchEvent

REPO = "https://example.com/org/app"


def meta(ns: str, name: str) -> ObjectMeta:
    return ObjectMeta(namespace=ns, name=name, labels={"team": "a"})


def config(ns: str, name: str = "app-ci", image: str = "alpine") -> PipelineConfig:
    steps = [Step(name="test", image=image, commands=["make test"])]
    return PipelineConfig(metadata=meta(ns, name), spec=PipelineConfigSpec(repository=REPO, steps=steps))


def run(ns: str, name: str = "app-ci-1") -> PipelineRun:
    return PipelineRun(
        metadata=meta(ns, name), spec=PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1")
    )


def connection(ns: str, name: str = "app-repo") -> RepositoryConnection:
    spec = RepositoryConnectionSpec(repository=REPO, provider="github", webhook_secret_ref="hook")
    return RepositoryConnection(metadata=meta(ns, name), spec=spec)


def secret(ns: str, name: str = "hook") -> Secret:
    return Secret(metadata=meta(ns, name), string_data={"webhook-secret": "s3cret"})


# Any: one test body runs over every kind, which the constrained TypeVar R cannot express.
BUILDERS: dict[str, Callable[[str], Any]] = {
    "PipelineConfig": config,
    "PipelineRun": run,
    "RepositoryConnection": connection,
    "Secret": secret,
}


def run_status(seq: int, phase: str = "Running") -> PipelineRunStatus:
    return PipelineRunStatus(phase=phase, observed_sequence=seq)  # type: ignore[arg-type]


class Recorder:
    """Runs one watch in a task and queues its events, so a test can await them with a deadline."""

    def __init__(self, events: AsyncIterator[WatchEvent]) -> None:
        self._queue: asyncio.Queue[WatchEvent] = asyncio.Queue()
        self._task = asyncio.create_task(self._pump(events))

    async def _pump(self, events: AsyncIterator[WatchEvent]) -> None:
        async for event in events:
            await self._queue.put(event)

    async def next(self, deadline: float = 10.0) -> tuple[str, str, Resource]:
        event = await asyncio.wait_for(self._queue.get(), deadline)
        return event.type, event.object.metadata.name, event.object

    async def take(self, count: int, deadline: float = 10.0) -> list[tuple[str, str]]:
        return [(t, n) for t, n, _ in [await self.next(deadline) for _ in range(count)]]

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@contextlib.asynccontextmanager
async def watching(store: ResourceStore, kind: type[Any], ns: str | None) -> AsyncIterator[Recorder]:
    recorder = Recorder(store.watch(kind, ns))
    try:
        yield recorder
    finally:
        await recorder.stop()
