"""Every service's operational HTTP surface: GET /healthz, /readyz and /metrics (aiohttp).

- /healthz answers 200 while the event loop turns (liveness: a wedged process is restarted);
- /readyz answers 200 when every registered readiness check passes (e.g. "nats": the bus is
  connected, registered by adapters.wiring), else 503 naming the failing checks;
- /metrics is the process's registry in the Prometheus text format.

The port is `C8S_METRICS_PORT`: by default 9090 in Kubernetes mode and off (0) in local mode, where
every service of `c8s dev up` runs on one machine and would fight over one port. adapters/runtime/lifecycle.py
starts it around every service's main, so services need no code for it.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from aiohttp import web
from msgspec import Meta, Struct

from adapters.runtime.metrics import REGISTRY, Registry
from adapters.runtime.settings import Mode

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Check = Callable[[], bool]


class HealthSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    mode: Mode = "local"
    #: -1: the mode's default (9090 in Kubernetes mode, off in local mode); 0: off.
    metrics_port: Annotated[int, Meta(ge=-1, le=65535)] = -1
    #: All interfaces: probes and scrapes come from outside the pod.
    metrics_host: str = "0.0.0.0"

    @property
    def port(self) -> int:
        if self.metrics_port >= 0:
            return self.metrics_port
        return 9090 if self.mode == "kubernetes" else 0


class Readiness:
    """Named readiness checks; ready when all pass (and when there are none)."""

    def __init__(self) -> None:
        self._checks: dict[str, Check] = {}

    def add(self, name: str, check: Check) -> None:
        self._checks[name] = check

    def remove(self, name: str) -> None:
        self._checks.pop(name, None)

    def failing(self) -> list[str]:
        return sorted(name for name, check in self._checks.items() if not _passes(check))


def _passes(check: Check) -> bool:
    try:
        return check()
    except Exception:
        return False


def app(readiness: Readiness, registry: Registry) -> web.Application:
    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def readyz(_: web.Request) -> web.Response:
        failing = readiness.failing()
        if failing:
            return web.Response(status=503, text=f"not ready: {', '.join(failing)}\n")
        return web.Response(text="ready\n")

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=registry.render().encode(), headers={"Content-Type": CONTENT_TYPE})

    application = web.Application()
    application.router.add_get("/healthz", healthz)
    application.router.add_get("/readyz", readyz)
    application.router.add_get("/metrics", metrics)
    return application


@contextlib.asynccontextmanager
async def serving(
    settings: HealthSettings, readiness: Readiness | None = None, registry: Registry = REGISTRY
) -> AsyncIterator[int]:
    """Serve while the context is open; yields the bound port (0 when switched off)."""
    if settings.port == 0:
        yield 0
        return
    runner = web.AppRunner(app(readiness or READINESS, registry), access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.metrics_host, settings.port)
        await site.start()
        yield _bound_port(runner, settings.port)
    finally:
        await runner.cleanup()


def _bound_port(runner: web.AppRunner, asked: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple):
            return int(address[1])
    return asked


#: The process's readiness checks (adapters register theirs when they connect).
READINESS = Readiness()
