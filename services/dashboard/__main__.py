"""`python -m services.dashboard`: settings from the environment -> wiring -> serve."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime

from adapters import wiring
from adapters.runtime.lifecycle import run
from adapters.runtime.settings import ConfigError, from_env
from services.dashboard.actions import Csrf
from services.dashboard.authorizing import Gate, Policy, networks
from services.dashboard.config import DashboardSettings
from services.dashboard.context import Context
from services.dashboard.http import make_app
from services.dashboard.live import RunFeed
from services.dashboard.reading import Reader
from services.dashboard.service import serve


def now() -> datetime:
    return datetime.now(UTC)


def policy(settings: DashboardSettings) -> Policy:
    try:
        proxies = networks(settings.trusted_proxies)
    except ValueError as e:
        raise ConfigError(f"C8S_TRUSTED_PROXIES: {e} (expected IPs or CIDRs, comma-separated)") from None
    public = frozenset(ns.strip() for ns in settings.public_namespaces.split(",") if ns.strip())
    return Policy(
        trusted_proxies=proxies, user_header=settings.user_header, groups_header=settings.groups_header,
        public=public,
    )  # fmt: skip


async def main(stop: asyncio.Event) -> None:
    settings = from_env(DashboardSettings)
    bus = await wiring.connect_bus(settings, "dashboard")
    try:
        store = await wiring.open_store(settings, bus)
        reader = Reader(store, bus, wiring.open_objects(settings), now)
        feed = RunFeed(store)
        csrf = Csrf(bytes.fromhex(settings.csrf_key) if settings.csrf_key else os.urandom(32))
        gate = Gate(
            await wiring.access(settings) if settings.authorization == "auto" else None, policy(settings)
        )
        ctx = Context(reader, feed, lambda ns, name: wiring.live_lines(bus, ns, name), csrf, gate=gate)
        app = make_app(ctx, lambda: bus.is_connected)
        await serve(app, feed, settings.listen_host, settings.listen_port, stop)
    finally:
        await bus.close()


if __name__ == "__main__":
    run("dashboard", main)
