"""`python -m services.projector`"""

from __future__ import annotations

import asyncio

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.projector.config import ProjectorSettings
from services.projector.service import Projector, serve


async def main(stop: asyncio.Event) -> None:
    settings = from_env(ProjectorSettings)
    bus = await wiring.connect_bus(settings, "projector")
    try:
        store = await wiring.open_store(settings, bus)
        await serve(bus, Projector(bus, store), stop)
    finally:
        await bus.close()


if __name__ == "__main__":
    run("projector", main)
