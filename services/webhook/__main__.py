"""`python -m services.webhook`: settings from the environment -> wiring -> serve (the HTTP
receiver, and beside it the consumer of comment-command decisions)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.webhook.commanding import Commands, serve_commands
from services.webhook.config import WebhookSettings
from services.webhook.handling import Webhooks
from services.webhook.http import make_app
from services.webhook.service import WatchedConnections, limits, sampler, serve


def now() -> datetime:
    return datetime.now(UTC)


async def main(stop: asyncio.Event) -> None:
    settings = from_env(WebhookSettings)
    bus = await wiring.connect_bus(settings, "webhook")
    try:
        store = await wiring.open_store(settings, bus)
        deliveries = await wiring.delivery_log(bus, settings.delivery_ttl_seconds)
        connections = WatchedConnections(store)
        webhooks = Webhooks(store, bus, deliveries, connections, now, sampler(settings))
        app = make_app(webhooks, lambda: connections.ready.is_set() and bus.is_connected, limits(settings))
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(serve_commands(bus, Commands(store, now), stop))
            await serve(app, connections, settings, stop)
    finally:
        await bus.close()


if __name__ == "__main__":
    run("webhook", main)
