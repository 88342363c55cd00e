"""The receiver's HTTP surface (aiohttp): POST /webhooks/{provider}, GET /healthz, GET /readyz.

Invariants: a body over the limit is refused with 413 before it is held in memory (the declared
Content-Length is checked first, and the body is read with a running count, so a chunked body or
one whose Content-Length lies cannot get past it); bad input never answers 5xx; a store or bus
failure, or running out of the deadline, answers 503 so the provider retries. One log line per
request, with `provider` and `delivery` bound through structlog's contextvars.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog
from aiohttp import web

from ports.bus_errors import BusError
from ports.resources import StoreError
from services.webhook.handling import Reply, Webhooks
from services.webhook.providers import PROVIDERS

log = structlog.get_logger("c8s.webhook")
_CHUNK = 64 * 1024


class Limits:
    def __init__(self, max_body_bytes: int, deadline_seconds: float) -> None:
        self.max_body_bytes = max_body_bytes
        self.deadline_seconds = deadline_seconds


def make_app(webhooks: Webhooks, ready: Callable[[], bool], limits: Limits) -> web.Application:
    async def receive(request: web.Request) -> web.Response:
        return await _receive(request, webhooks, limits)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ok = ready()
        return web.json_response({"status": "ready" if ok else "starting"}, status=200 if ok else 503)

    # client_max_size only bounds request.read()/post(), which are not used: the limit is ours.
    app = web.Application(client_max_size=limits.max_body_bytes + 1)
    app.router.add_post("/webhooks/{provider}", receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def _receive(request: web.Request, webhooks: Webhooks, limits: Limits) -> web.Response:
    name = request.match_info["provider"]
    if name not in PROVIDERS:
        reply = Reply(status=404, reason=f"unknown provider {name[:64]!r}: use {', '.join(PROVIDERS)}")
        return _unread(_json(reply))
    headers = {k.lower(): v for k, v in request.headers.items()}
    started = time.monotonic()
    body = await read_limited(request, limits.max_body_bytes)
    delivery = PROVIDERS[name].delivery_id(headers, body or b"")
    with structlog.contextvars.bound_contextvars(provider=name, delivery=delivery):
        reply = await _decide(webhooks, name, headers, body, limits)
        log.info(
            "webhook", status=reply.status, reason=reply.reason, runs=len(reply.runs),
            ms=round((time.monotonic() - started) * 1000, 1),
        )  # fmt: skip
    response = _json(reply, delivery)
    return response if body is not None else _unread(response)


def _unread(response: web.Response) -> web.Response:
    """Close the connection after a reply that left the body unread: keeping it alive would make
    the server wait for (or drain) a body nobody wants before the next request or a shutdown."""
    response.force_close()
    return response


async def _decide(
    webhooks: Webhooks, name: str, headers: dict[str, str], body: bytes | None, limits: Limits
) -> Reply:
    try:
        async with asyncio.timeout(limits.deadline_seconds):
            if body is None:
                return await webhooks.too_large(name, headers, limits.max_body_bytes)
            return await webhooks.handle(name, headers, body)
    except (StoreError, BusError) as e:
        log.warning("webhook.unavailable", error=str(e))
        return Reply(status=503, reason=f"temporarily unavailable, retry later: {type(e).__name__}")
    except TimeoutError:
        return Reply(status=503, reason=f"not decided within {limits.deadline_seconds}s, retry later")


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed `limit` bytes."""
    declared = request.content_length
    if declared is not None and declared > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.content.iter_chunked(_CHUNK):
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _json(reply: Reply, delivery: str = "") -> web.Response:
    body: dict[str, object] = {"status": reply.status, "reason": reply.reason, "runs": reply.runs}
    if delivery:
        body["delivery"] = delivery
    return web.json_response(body, status=reply.status)


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve `app`; returns the runner (to clean up) and the base URL actually bound (port 0 works)."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}"
