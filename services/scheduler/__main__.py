"""`python -m services.scheduler`"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.scheduler.config import SchedulerSettings
from services.scheduler.service import Scheduler, serve


async def main(stop: asyncio.Event) -> None:
    settings = from_env(SchedulerSettings)
    bus = await wiring.connect_bus(settings, "scheduler")
    try:
        store = await wiring.open_store(settings, bus)
        scheduler = Scheduler(
            bus,
            store,
            wiring.executor(settings),
            timedelta(seconds=settings.log_grace_seconds),
            quotas=await wiring.quotas(settings),
        )
        await serve(scheduler, stop, settings.tick_seconds)
    finally:
        await bus.close()


if __name__ == "__main__":
    run("scheduler", main)
