"""`python -m services.job_watcher`: settings from the environment -> wiring -> serve."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.job_watcher.config import WatcherSettings
from services.job_watcher.service import JobWatcher, serve


async def main(stop: asyncio.Event, settings: WatcherSettings | None = None) -> None:
    settings = settings or from_env(WatcherSettings)
    bus = await wiring.connect_bus(settings, "job-watcher")
    workloads = wiring.step_workloads(settings)
    try:
        watcher = JobWatcher(bus, workloads, timedelta(seconds=settings.start_deadline_seconds))
        await serve(watcher, stop, settings.tick_seconds)
    finally:
        with contextlib.suppress(Exception):
            await workloads.close()
        with contextlib.suppress(Exception):
            await bus.close()


if __name__ == "__main__":
    run("job-watcher", main)
