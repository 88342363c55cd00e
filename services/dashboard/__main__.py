"""`python -m services.dashboard`: settings from the environment -> wiring -> serve."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.dashboard.actions import Csrf
from services.dashboard.config import DashboardSettings
from services.dashboard.context import Context
from services.dashboard.http import make_app
from services.dashboard.live import RunFeed
from services.dashboard.reading import Reader
from services.dashboard.service import serve


def now() -> datetime:
    return datetime.now(UTC)


async def main(stop: asyncio.Event) -> None:
    settings = from_env(DashboardSettings)
    bus = await wiring.connect_bus(settings, "dashboard")
    try:
        store = await wiring.open_store(settings, bus)
        reader = Reader(store, bus, wiring.open_objects(settings), now)
        feed = RunFeed(store)
        csrf = Csrf(bytes.fromhex(settings.csrf_key) if settings.csrf_key else os.urandom(32))
        ctx = Context(reader, feed, lambda ns, name: wiring.live_lines(bus, ns, name), csrf)
        app = make_app(ctx, lambda: bus.is_connected)
        await serve(app, feed, settings.listen_host, settings.listen_port, stop)
    finally:
        await bus.close()


if __name__ == "__main__":
    run("dashboard", main)
