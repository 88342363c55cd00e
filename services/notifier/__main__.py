"""`python -m services.notifier`"""

from __future__ import annotations

import asyncio

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import from_env
from services.notifier.chatting import ChatNotifier
from services.notifier.commands import CommandDecider
from services.notifier.config import NotifierSettings
from services.notifier.registering import Registrar
from services.notifier.reporting import StatusReporter
from services.notifier.service import Notifier, serve, utcnow


async def main(stop: asyncio.Event) -> None:
    settings = from_env(NotifierSettings)
    bus = await wiring.connect_bus(settings, "notifier")
    http = wiring.http_client(settings.retry_policy, "c8s-notifier")
    try:
        store = await wiring.open_store(settings, bus)
        url, overrides = settings.public_url, settings.api_overrides
        links = settings.runs_url
        statuses = StatusReporter(bus, store, http, links, overrides, utcnow)
        notifier = Notifier(bus, statuses, ChatNotifier(bus, store, http, links, utcnow))
        registrar = Registrar(store, http, url, overrides) if settings.register_webhooks and url else None
        commands = CommandDecider(bus, store, http, overrides, utcnow)
        await serve(notifier, registrar, stop, settings.concurrency, settings.resync_seconds, commands)
    finally:
        await http.close()
        await bus.close()


if __name__ == "__main__":
    run("notifier", main)
