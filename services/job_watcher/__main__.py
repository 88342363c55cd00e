"""`python -m services.job_watcher`: settings from the environment -> wiring -> serve (and the
artifact upload endpoint when an upload key is configured)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.job_watcher.config import WatcherSettings
from services.job_watcher.service import JobWatcher, serve
from services.job_watcher.uploads import Uploads, listening


async def main(stop: asyncio.Event, settings: WatcherSettings | None = None) -> None:
    settings = settings or from_env(WatcherSettings)
    bus = await wiring.connect_bus(settings, "job-watcher")
    workloads = wiring.step_workloads(settings)
    try:
        async with contextlib.AsyncExitStack() as endpoints:
            if settings.artifact_upload_key:
                await endpoints.enter_async_context(upload_endpoint(settings))
            watcher = JobWatcher(bus, workloads, timedelta(seconds=settings.start_deadline_seconds))
            await serve(watcher, stop, settings.tick_seconds)
    finally:
        with contextlib.suppress(Exception):
            await workloads.close()
        with contextlib.suppress(Exception):
            await bus.close()


def upload_endpoint(settings: WatcherSettings) -> contextlib.AbstractAsyncContextManager[str]:
    key, limit = settings.artifact_upload_key.encode(), settings.max_artifact_bytes
    uploads = Uploads(wiring.open_objects(settings), key, limit)
    return listening(uploads, settings.upload_host, settings.upload_port)


if __name__ == "__main__":
    run("job-watcher", main)
