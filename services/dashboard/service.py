"""The dashboard process: the run feed followed, the HTTP server run until the stop signal."""

from __future__ import annotations

import asyncio

import structlog
from aiohttp import web

from adapters.runtime.tasks import stop_task
from services.dashboard.live import RunFeed

log = structlog.get_logger("c8s.dashboard")
#: How long open streams get to end when the process stops.
SHUTDOWN_SECONDS = 2.0


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve `app`; returns the runner (to clean up) and the base URL actually bound (port 0 works)."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_SECONDS)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}"


async def serve(app: web.Application, feed: RunFeed, host: str, port: int, stop: asyncio.Event) -> None:
    """Follow the runs and answer requests until `stop` is set."""
    follower = asyncio.create_task(feed.follow())
    runner, url = await start(app, host, port)
    log.info("dashboard.listening", url=url)
    try:
        await stop.wait()
    finally:
        await stop_task(follower)
        await runner.cleanup()
