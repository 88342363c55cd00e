"""The life of a service process: configure logging, run until SIGTERM/SIGINT, shut down cleanly.

`run(name, main)` is every `services/<name>/__main__.py`: `main(stop)` gets an asyncio.Event that
the signals set; it must return once it is set, after draining its NATS connection. A ConfigError
prints one line and exits 2 (bad configuration is not a crash); anything unexpected propagates and
the process exits non-zero, to be restarted by its supervisor (kill-and-restart is always safe).
Around `main`, adapters.runtime.health serves /healthz, /readyz and /metrics (C8S_METRICS_PORT).
Clients the composition root opens for the process (Kubernetes API clients: each holds an aiohttp
session) are registered with `close_on_exit` and closed once `main` returned or failed, so none is
left for the garbage collector to report as an unclosed session or connector.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from contextvars import ContextVar

from adapters.runtime import health as health_server
from adapters.runtime.settings import ConfigError, from_env
from adapters.runtime.structured_logging import configure

Main = Callable[[asyncio.Event], Awaitable[None]]
Closer = Callable[[], Awaitable[None]]
_closing: ContextVar[contextlib.AsyncExitStack | None] = ContextVar("c8s_closing", default=None)


def close_on_exit(closer: Closer) -> None:
    """Have `run` await `closer()` when the process ends (outside `run`, e.g. in tests: nothing)."""
    stack = _closing.get()
    if stack is not None:
        stack.push_async_callback(_quietly, closer)


async def _quietly(closer: Closer) -> None:
    with contextlib.suppress(Exception):  # closing at exit: a failure here changes nothing
        await closer()


def run(name: str, main: Main, level: str = "info", *, health: bool = True) -> None:
    """Run `main(stop)` as the process `name`; `health=False` for a helper container (the artifact
    sidecar) that serves no probes."""
    configure(name, level)
    try:
        asyncio.run(_run(main, health))
    except ConfigError as e:
        print(f"c8s {name}: {e}", file=sys.stderr)
        raise SystemExit(2) from None


async def _run(main: Main, health: bool) -> None:
    async with contextlib.AsyncExitStack() as stack:
        _closing.set(stack)
        await _serve(main, health)


async def _serve(main: Main, health: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if not health:
        await main(stop)
        return
    async with health_server.serving(from_env(health_server.HealthSettings)):
        await main(stop)
