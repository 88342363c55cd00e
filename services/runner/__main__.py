"""`python -m services.runner`: settings from the environment -> wiring -> serve."""

from __future__ import annotations

import asyncio
import contextlib

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.runner.config import RunnerSettings
from services.runner.service import DURABLE, Runner, serve, step_deps


async def main(stop: asyncio.Event) -> None:
    settings = from_env(RunnerSettings)
    bus = await wiring.connect_bus(settings, DURABLE)
    try:
        store = await wiring.open_store(settings, bus)
        runner = Runner(step_deps(settings, bus, wiring.open_objects(settings)), store, settings)
        await serve(runner, stop)
    finally:
        with contextlib.suppress(Exception):
            await bus.close()


if __name__ == "__main__":
    run("runner", main)
