"""What the dashboard reads, through its ports: runs and configs from the resource store, a run's
history from the bus, logs and artifacts from the object store.

Invariant: only URLs a run's own status records are ever read from the object store (a step's
logURL, its artifactURLs by index), so no request can name an object; a missing run, config, step,
log or artifact is NotFound (a 404 page), never a 5xx.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun, StepStatus
from events.run import RunEvent
from ports.bus import Bus, run_history
from ports.bus_errors import BusRejected
from ports.objects import ObjectNotFound, ObjectStore
from ports.resources import NotFound, ResourceStore
from services.dashboard.inputs import RunFilter
from services.dashboard.listing import ConfigView, RunRow, config_view, run_rows
from services.dashboard.run_view import RunView, artifact_name, run_view

Clock = Callable[[], datetime]
RECENT_RUNS = 20


class Missing(Exception):
    """What was asked for does not exist (the message says which part)."""


class Reader:
    def __init__(self, store: ResourceStore, bus: Bus, objects: ObjectStore, clock: Clock) -> None:
        self.store, self.bus, self.objects, self.clock = store, bus, objects, clock

    async def runs(self, wanted: RunFilter) -> list[RunRow]:
        listed = await self.store.list(PipelineRun, wanted.namespace or None)
        return run_rows(listed, wanted, self.clock())

    async def run(self, namespace: str, name: str) -> PipelineRun:
        try:
            return await self.store.get(PipelineRun, namespace, name)
        except NotFound:
            raise Missing(f"no pipelinerun {name!r} in namespace {namespace!r}") from None

    async def history(self, run: PipelineRun) -> list[tuple[int, RunEvent]]:
        meta = run.metadata
        try:
            stored = await run_history(self.bus, meta.namespace, meta.name, meta.uid)
        except BusRejected:
            return []  # no stream yet: nothing happened on this instance
        return [(r.seq, r.event) for r in stored if isinstance(r.event, RunEvent)]

    async def run_page(self, namespace: str, name: str) -> RunView:
        run = await self.run(namespace, name)
        return run_view(run, await self.history(run), self.clock())

    async def run_page_with_logs(self, namespace: str, name: str) -> tuple[RunView, dict[str, bytes]]:
        """The page's view and every stored log its run's status lists (read at once, one run read)."""
        run = await self.run(namespace, name)
        steps = [s for s in (run.status.steps if run.status else []) if s.log_url]
        reading = asyncio.gather(*(self._stored(s) for s in steps))
        view = run_view(run, await self.history(run), self.clock())
        return view, dict(zip((s.name for s in steps), await reading, strict=True))

    async def _stored(self, step: StepStatus) -> bytes:
        """A shipped log, or b"" when it is gone from storage (the page says there is nothing)."""
        try:
            return await self.objects.read(step.log_url or "")
        except ObjectNotFound:
            return b""

    async def config(self, namespace: str, name: str) -> ConfigView:
        try:
            config = await self.store.get(PipelineConfig, namespace, name)
        except NotFound:
            raise Missing(f"no pipelineconfig {name!r} in namespace {namespace!r}") from None
        runs = await self.store.list(PipelineRun, namespace)
        return config_view(config, runs, self.clock(), RECENT_RUNS)

    async def log(self, namespace: str, name: str, step: str) -> bytes | None:
        """The step's stored log; None while it has none yet (not shipped, or never ran)."""
        status = step_of(await self.run(namespace, name), step)
        if not status.log_url:
            return None
        try:
            return await self.objects.read(status.log_url)
        except ObjectNotFound:
            raise Missing(f"the log of step {step!r} is gone from storage") from None

    async def artifact(
        self, namespace: str, name: str, step: str, index: int
    ) -> tuple[str, AsyncIterator[bytes]]:
        """(file name, its bytes as a stream) of the step's index-th artifact."""
        urls = step_of(await self.run(namespace, name), step).artifact_urls
        if index >= len(urls):
            raise Missing(f"step {step!r} has {len(urls)} artifact(s), no number {index}")
        url = urls[index]
        chunks = self.objects.chunks(url)
        try:
            first = await anext(chunks, b"")
        except ObjectNotFound:
            raise Missing(f"artifact {artifact_name(url)!r} is gone from storage") from None
        return artifact_name(url), _prepend(first, chunks)


def step_of(run: PipelineRun, step: str) -> StepStatus:
    for status in run.status.steps if run.status else []:
        if status.name == step:
            return status
    raise Missing(f"pipelinerun {run.metadata.name!r} has no step {step!r} (yet)")


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    if first:
        yield first
    async for chunk in rest:
        yield chunk
