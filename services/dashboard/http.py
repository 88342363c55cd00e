"""The dashboard's HTTP surface (aiohttp): pages, the JSON API, server-sent events, downloads.

Routes (docs/dashboard.md): GET /runs, /runs/{ns}/{run}, /runs/{ns}/{run}/logs/{step},
/runs/{ns}/{run}/artifacts/{step}/{index}, /configs/{ns}/{name}, the streams /runs/stream and
/runs/{ns}/{run}/stream, POST /runs/{ns}/{run}/cancel and /rerun, and /api/... the same as JSON.

Invariants: every path segment and query value is checked (services.dashboard.inputs) before a
port is called; bad input answers 4xx (an HTML page, or JSON under /api), an unknown run 404; only
a store, bus or object-store outage answers 5xx (503). Responses carry a Content-Security-Policy
that allows only the dashboard's own script, so no log line can run code even if it got past the
escaping.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from aiohttp import web

from ports.access import AccessUnavailable, Verb
from ports.bus_errors import BusError
from ports.objects import ObjectStoreUnavailable
from ports.resources import StoreError
from services.dashboard import inputs, routes_api, routes_pages
from services.dashboard.assets import CSS, JS
from services.dashboard.context import Context
from services.dashboard.html_pages import error_page
from services.dashboard.inputs import BadInput
from services.dashboard.reading import Missing

log = structlog.get_logger("c8s.dashboard")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; connect-src 'self'; "
    "img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
#: Longest request target accepted (aiohttp itself refuses beyond 8190 bytes).
MAX_PATH = 2048


def make_app(ctx: Context, ready: Callable[[], bool]) -> web.Application:
    app = web.Application(middlewares=[_errors, _headers, _authorized], client_max_size=64 * 1024)
    app[routes_pages.CONTEXT] = ctx
    routes_pages.add(app.router)
    routes_api.add(app.router)

    async def css(_: web.Request) -> web.Response:
        return web.Response(text=CSS, content_type="text/css")

    async def js(_: web.Request) -> web.Response:
        return web.Response(text=JS, content_type="application/javascript")

    async def readyz(_: web.Request) -> web.Response:
        ok = ready()
        return web.json_response({"status": "ready" if ok else "starting"}, status=200 if ok else 503)

    app.router.add_get("/static/app.css", css)
    app.router.add_get("/static/app.js", js)
    app.router.add_get("/healthz", _healthz)
    app.router.add_get("/readyz", readyz)
    return app


async def _healthz(_: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@web.middleware
async def _headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not response.prepared:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@web.middleware
async def _authorized(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every route under a namespace is authorized before its handler runs (authorizing.py)."""
    if "ns" in request.match_info:
        namespace = inputs.namespace(request.match_info["ns"])
        verb: Verb = "get"
        if request.method == "POST":
            verb = "create" if request.path.endswith("/rerun") else "patch"
        await request.app[routes_pages.CONTEXT].gate.check(request, namespace, verb)
    return await handler(request)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if len(request.raw_path) > MAX_PATH:
        return _error(request, 414, f"request path longer than {MAX_PATH} characters")
    try:
        return await handler(request)
    except BadInput as e:
        return _error(request, e.status, str(e))
    except Missing as e:
        return _error(request, 404, str(e))
    except web.HTTPNotFound:
        return _error(request, 404, f"no page at {request.path[:200]}")
    except web.HTTPMethodNotAllowed as e:
        return _error(
            request, 405, f"{request.method} is not allowed here (use {', '.join(sorted(e.allowed_methods))})"
        )
    except (StoreError, BusError, ObjectStoreUnavailable, AccessUnavailable) as e:
        log.warning("dashboard.unavailable", error=str(e), path=request.path[:200])
        return _error(request, 503, f"temporarily unavailable, retry later: {type(e).__name__}")


def _error(request: web.Request, status: int, message: str) -> web.Response:
    if request.path.startswith("/api/"):
        response = web.json_response({"status": status, "error": message}, status=status)
    else:
        response = web.Response(text=error_page(status, message), status=status, content_type="text/html")
    response.headers["Content-Security-Policy"] = CSP
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="c8s"'
    return response
