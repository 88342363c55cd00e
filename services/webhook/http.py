"""The receiver's HTTP surface (aiohttp): POST /webhooks/{provider}, GET /healthz, GET /readyz.

Invariants: a body over the limit is refused with 413 before it is held in memory (the declared
Content-Length is checked first, and the body is read with a running count, so a chunked body or
one whose Content-Length lies cannot get past it); bodies held at once stay within the in-flight
budget (503 with Retry-After beyond it: services/webhook/bodies.py); bad input never answers 5xx;
a store or bus failure, or running out of the deadline, answers 503 so the provider retries.
One log line per request, with `provider` and `delivery` bound through structlog's contextvars.

Slow senders: aiohttp closes a connection whose request line and headers have not all arrived
within `keepalive_timeout` of the connection's start (or of its previous response), which is
`header_timeout_seconds` here; a body not complete within `body_timeout_seconds` answers 408 and
the connection is closed after at most `LINGER_SECONDS` of draining.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from aiohttp import web

from adapters.runtime.instruments import INSTRUMENTS
from ports.bus_errors import BusError
from ports.resources import StoreError
from services.webhook.bodies import Body, Budget, Shed, read_body
from services.webhook.handling import Reply, Request, Webhooks
from services.webhook.providers import PROVIDERS

log = structlog.get_logger("c8s.webhook")
MiB = 1024 * 1024
#: How long a closing connection's unread body is drained so the client reads the reply (not RST).
LINGER_SECONDS = 2.0
RETRY_AFTER_SECONDS = 5
#: Answers to a body that was not read whole (413 is the receiver's decision, published).
_SHED: dict[str, Reply] = {
    "busy": Reply(status=503, reason="too many request bodies in flight, retry later"),
    "too-slow": Reply(status=408, reason="request body not received in time"),
}


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int
    deadline_seconds: float
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 10.0
    #: The bytes of request bodies held at once, all requests together.
    in_flight_bytes: int = 64 * MiB


LIMITS = web.AppKey("limits", Limits)
BUDGET = web.AppKey("budget", Budget)


def make_app(webhooks: Webhooks, ready: Callable[[], bool], limits: Limits) -> web.Application:
    budget = Budget(limits.in_flight_bytes)

    async def receive(request: web.Request) -> web.Response:
        return await _receive(request, webhooks, limits, budget)

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        ok = ready()
        return web.json_response({"status": "ready" if ok else "starting"}, status=200 if ok else 503)

    # client_max_size only bounds request.read()/post(), which are not used: the limit is ours.
    app = web.Application(client_max_size=limits.max_body_bytes + 1)
    app[LIMITS], app[BUDGET] = limits, budget
    app.router.add_post("/webhooks/{provider}", receive)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def _receive(request: web.Request, webhooks: Webhooks, limits: Limits, budget: Budget) -> web.Response:
    name = request.match_info["provider"]
    if name not in PROVIDERS:
        reply = Reply(status=404, reason=f"unknown provider {name[:64]!r}: use {', '.join(PROVIDERS)}")
        return _unread(_json(reply))
    headers = {k.lower(): v for k, v in request.headers.items()}
    started = time.monotonic()
    async with read_body(request, limits.max_body_bytes, budget, limits.body_timeout_seconds) as body:
        read = body if isinstance(body, Body) else None
        delivery = PROVIDERS[name].delivery_id(headers, read.data if read else b"")
        with structlog.contextvars.bound_contextvars(provider=name, delivery=delivery):
            reply = await _decide(webhooks, Request(name, headers, request.remote or ""), body, limits)
            log.info(
                "webhook", status=reply.status, reason=reply.reason, runs=len(reply.runs),
                ms=round((time.monotonic() - started) * 1000, 1),
            )  # fmt: skip
    response = _json(reply, delivery)
    if reply.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response if read is not None else _unread(response)


def _unread(response: web.Response) -> web.Response:
    """Close the connection after a reply that left the body unread: keeping it alive would make
    the server wait for (or drain) a body nobody wants before the next request or a shutdown."""
    response.force_close()
    return response


async def _decide(webhooks: Webhooks, request: Request, body: Body | Shed, limits: Limits) -> Reply:
    if isinstance(body, str) and body in _SHED:
        INSTRUMENTS.webhook_requests_shed.inc(reason=body)
        return _SHED[body]
    try:
        async with asyncio.timeout(limits.deadline_seconds):
            if not isinstance(body, Body):
                return await webhooks.too_large(request, limits.max_body_bytes)
            return await webhooks.handle(request, body.data, body.digest)
    except (StoreError, BusError) as e:
        log.warning("webhook.unavailable", error=str(e))
        return Reply(status=503, reason=f"temporarily unavailable, retry later: {type(e).__name__}")
    except TimeoutError:
        return Reply(status=503, reason=f"not decided within {limits.deadline_seconds}s, retry later")


def _json(reply: Reply, delivery: str = "") -> web.Response:
    body: dict[str, object] = {"status": reply.status, "reason": reply.reason, "runs": reply.runs}
    if delivery:
        body["delivery"] = delivery
    return web.json_response(body, status=reply.status)


async def start(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, str]:
    """Serve `app`; returns the runner (to clean up) and the base URL actually bound (port 0 works)."""
    limits = app[LIMITS]
    runner = web.AppRunner(
        app, access_log=None, keepalive_timeout=limits.header_timeout_seconds, lingering_time=LINGER_SECONDS
    )
    await runner.setup()
    # reuse_port: replicas on one host share the port and the kernel spreads connections (dev up
    # --replicas); in a cluster each pod has its own network namespace and it changes nothing.
    site = web.TCPSite(runner, host, port, reuse_port=True)
    await site.start()
    bound = runner.addresses[0]
    return runner, f"http://{bound[0]}:{bound[1]}"
