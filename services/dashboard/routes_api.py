"""The JSON API under /api (docs/dashboard.md): the data `c8s get`, `c8s logs` and `c8s events`
show, for scripts and for the pages' own enhancement.

GET /api/runs?namespace=&config=&branch=&pr=&phase=&limit=   {"runs": [run summary, ...]} newest first
GET /api/runs/{ns}/{run}                                     the PipelineRun as `c8s get pr -o json`
GET /api/runs/{ns}/{run}/steps                               the steps as the page shows them (DAG)
GET /api/runs/{ns}/{run}/events                              {"events": [{seq, at, type, details, event}]}
GET /api/runs/{ns}/{run}/logs/{step}                         the stored (masked) log, text/plain
GET /api/configs/{ns}/{name}                                 the config's stats (status) and recent runs
"""

from __future__ import annotations

import msgspec
from aiohttp import web

from projections.event_details import details, timestamp
from services.dashboard import inputs
from services.dashboard.reading import Missing
from services.dashboard.routes_pages import ctx_of, run_ref, visible_runs, wanted

_ENCODER = msgspec.json.Encoder()


def add(router: web.UrlDispatcher) -> None:
    router.add_get("/api/runs", runs)
    router.add_get("/api/runs/{ns}/{run}", run)
    router.add_get("/api/runs/{ns}/{run}/steps", steps)
    router.add_get("/api/runs/{ns}/{run}/events", events)
    router.add_get("/api/runs/{ns}/{run}/logs/{step}", step_log)
    router.add_get("/api/configs/{ns}/{name}", config)


def json(data: object) -> web.Response:
    return web.Response(body=_ENCODER.encode(data), content_type="application/json")


async def runs(request: web.Request) -> web.Response:
    return json({"runs": await visible_runs(request, wanted(request))})


async def run(request: web.Request) -> web.Response:
    return json(await ctx_of(request).reader.run(*run_ref(request)))


async def steps(request: web.Request) -> web.Response:
    view = await ctx_of(request).reader.run_page(*run_ref(request))
    return json({"steps": view.steps})


async def events(request: web.Request) -> web.Response:
    reader = ctx_of(request).reader
    history = await reader.history(await reader.run(*run_ref(request)))
    shown = [
        {"seq": seq, "at": timestamp(e.at), "type": e.type, "details": details(e), "event": e}
        for seq, e in history
    ]
    return json({"events": shown})


async def step_log(request: web.Request) -> web.Response:
    ns, name = run_ref(request)
    step = inputs.step(request.match_info["step"])
    data = await ctx_of(request).reader.log(ns, name, step)
    if data is None:
        raise Missing(f"step {step!r} has no stored log yet (it has not finished, or never ran)")
    return web.Response(body=data, content_type="text/plain", charset="utf-8")


async def config(request: web.Request) -> web.Response:
    ns = inputs.namespace(request.match_info["ns"])
    name = inputs.name(request.match_info["name"], "config")
    return json(await ctx_of(request).reader.config(ns, name))
