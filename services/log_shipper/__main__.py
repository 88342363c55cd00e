"""`python -m services.log_shipper`: settings from the environment -> wiring -> serve."""

from __future__ import annotations

import asyncio
import contextlib

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.log_shipper.config import ShipperSettings
from services.log_shipper.service import DURABLE, Shipper, serve


async def main(stop: asyncio.Event, settings: ShipperSettings | None = None) -> None:
    settings = settings or from_env(ShipperSettings)
    bus = await wiring.connect_bus(settings, DURABLE)
    try:
        shipper = Shipper(
            bus=bus,
            store=await wiring.open_store(settings, bus),
            objects=wiring.open_objects(settings),
            logs=wiring.step_logs(settings, settings.poll_seconds),
            live=wiring.live_log(bus),
            retry_seconds=settings.retry_seconds,
            max_log_bytes=settings.max_log_bytes,
            quiet_seconds=settings.quiet_seconds,
        )
        await serve(shipper, stop, settings.concurrency)
    finally:
        with contextlib.suppress(Exception):
            await bus.close()


if __name__ == "__main__":
    run("log-shipper", main)
