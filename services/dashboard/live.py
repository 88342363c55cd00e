"""The live parts: one watch of the PipelineRuns shared by every open page, and the server-sent
event streams built on it and on the bus's live log lines.

A run page's stream subscribes to the run feed and to the run's live log lines *before* it reads
the run, so no change between the page and the stream is missed (a change the page already shows
is sent again, harmlessly). Events: `run` {phase, reason, duration}; `step` {name, phase,
exit_code, duration, reason, artifacts} for each step that changed; `log` {step, n, html} per live
line (escaped and coloured on the server); `stored` {step, html} when a step's log is stored (the
page puts it in place of the live lines, unless it shows the stored log already); `end` once the
run is final. A listing's stream sends `changed` (at most twice a second) when a run it shows may
have changed. A slow client loses feed entries beyond FEED_QUEUE (the next change carries the state).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime

import msgspec
import structlog
from aiohttp import web

from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun
from ports.live import LiveLines
from ports.resources import ResourceStore, StoreError
from services.dashboard.ansi import PLAIN, Style, render_line
from services.dashboard.html_run import INLINE_LOG_BYTES, log_lines
from services.dashboard.inputs import RunFilter
from services.dashboard.listing import format_duration, matches, run_row
from services.dashboard.run_view import StepView, step_views

log = structlog.get_logger("c8s.dashboard")
#: step -> its stored log, None while it has none.
StoredLog = Callable[[str], Awaitable[bytes | None]]
FEED_QUEUE = 1000
WATCH_RETRY_SECONDS = 1.0
#: How long a stream waits for a log line before looking at run changes.
TICK_SECONDS = 0.05
HEARTBEAT_SECONDS = 15.0
LISTING_THROTTLE_SECONDS = 0.5


class RunFeed:
    """Every PipelineRun change, from one store watch, to every subscriber's queue."""

    def __init__(self, store: ResourceStore) -> None:
        self._store = store
        self._queues: set[asyncio.Queue[PipelineRun]] = set()
        self.ready = asyncio.Event()

    @contextlib.contextmanager
    def subscribe(self) -> Iterator[asyncio.Queue[PipelineRun]]:
        queue: asyncio.Queue[PipelineRun] = asyncio.Queue(FEED_QUEUE)
        self._queues.add(queue)
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def follow(self) -> None:
        """Watch the runs, re-opening the watch after a store failure. Never returns."""
        while True:
            try:
                async for event in self._store.watch(PipelineRun):
                    self.ready.set()
                    if isinstance(event.object, PipelineRun):
                        self._publish(event.object)
            except StoreError as e:
                log.warning("dashboard.watch_failed", error=str(e))
            await asyncio.sleep(WATCH_RETRY_SECONDS)

    def _publish(self, run: PipelineRun) -> None:
        for queue in self._queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(run)


async def open_stream(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    )
    await response.prepare(request)
    return response


async def send(response: web.StreamResponse, event: str, data: object) -> None:
    payload = msgspec.json.encode(data).decode()
    await response.write(f"event: {event}\ndata: {payload}\n\n".encode())


class RunStream:
    """One run page's stream: what changed since the last message, and live log lines."""

    def __init__(
        self, response: web.StreamResponse, clock: Callable[[], datetime], stored: StoredLog
    ) -> None:
        self.response, self.clock, self.stored = response, clock, stored
        self.lines: dict[str, int] = {}  # step -> live lines this stream sent
        self.styles: dict[str, Style] = {}
        self.steps: dict[str, StepView] = {}
        self.last_run: tuple[str, str, str] | None = None

    async def run(self, run: PipelineRun) -> bool:
        """Send what changed in `run`; True once it is final."""
        now = self.clock()
        row = run_row(run, now)
        reason = _reason(run)
        summary = (row.phase, reason, format_duration(row.duration_seconds))
        if summary != self.last_run:
            self.last_run = summary
            await send(self.response, "run", {"phase": row.phase, "reason": reason, "duration": summary[2]})
        for step in step_views(run, None, {}, now):
            before = self.steps.get(step.name)
            if before != step:
                self.steps[step.name] = step
                await send(self.response, "step", _step_data(step))
            if step.has_log and not (before and before.has_log):
                await self._stored(step.name)
        return row.phase in TERMINAL_RUN_PHASES

    async def _stored(self, step: str) -> None:
        """The step's whole stored log (its end, when long): the page shows it in place of live lines."""
        data = await self.stored(step)
        if data is not None:
            html = log_lines(step, data[-INLINE_LOG_BYTES:])
            await send(self.response, "stored", {"step": step, "html": html})

    async def line(self, step: str, data: bytes) -> None:
        rendered, self.styles[step] = render_line(
            data.decode("utf-8", errors="replace").rstrip("\n"), self.styles.get(step, PLAIN)
        )
        n = self.lines[step] = self.lines.get(step, 0) + 1
        await send(self.response, "log", {"step": step, "n": n, "html": rendered})


def _step_data(step: StepView) -> dict[str, object]:
    return {
        "name": step.name, "phase": step.phase, "exit_code": step.exit_code,
        "duration": format_duration(step.duration_seconds), "reason": step.reason,
        "artifacts": [{"index": a.index, "name": a.name} for a in step.artifacts],
    }  # fmt: skip


def _reason(run: PipelineRun) -> str:
    for c in run.status.conditions if run.status else []:
        if c.type == "Succeeded":
            return f"{c.reason}: {c.message}" if c.message else c.reason or ""
    return ""


async def follow_run(
    stream: RunStream, first: PipelineRun, changes: asyncio.Queue[PipelineRun], lines: LiveLines
) -> None:
    """Send the run's changes and live lines until it is final (the caller handles disconnects)."""
    name, namespace = first.metadata.name, first.metadata.namespace
    done = await stream.run(first)
    loop = asyncio.get_running_loop()
    beat = loop.time() + HEARTBEAT_SECONDS
    while not done:
        got = await lines.next(TICK_SECONDS)
        if got is not None:
            await stream.line(*got)
        while not changes.empty():
            run = changes.get_nowait()
            if run.metadata.name == name and run.metadata.namespace == namespace:
                done = await stream.run(run) or done
        if loop.time() > beat:
            beat = loop.time() + HEARTBEAT_SECONDS
            await stream.response.write(b": ping\n\n")
    await send(stream.response, "end", {})


async def follow_listing(
    response: web.StreamResponse,
    wanted: RunFilter,
    changes: asyncio.Queue[PipelineRun],
    clock: Callable[[], datetime],
) -> None:
    """Send `changed` when a run matching the filter changed; returns when the client is gone."""
    relevant = RunFilter(namespace=wanted.namespace, config=wanted.config, branch=wanted.branch, pr=wanted.pr)
    while True:
        try:
            run = await asyncio.wait_for(changes.get(), HEARTBEAT_SECONDS)
        except TimeoutError:
            await response.write(b": ping\n\n")
            continue
        if matches(run_row(run, clock()), relevant):
            await send(response, "changed", {})  # no name: the page reloads what it may see
            await asyncio.sleep(LISTING_THROTTLE_SECONDS)
            while not changes.empty():
                changes.get_nowait()
