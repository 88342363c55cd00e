"""The HTML pages, streams, downloads and the two actions (handlers only: reading, views and
rendering live in their own modules). Each handler checks its inputs first (inputs.py)."""

from __future__ import annotations

import contextlib
from urllib.parse import quote

from aiohttp import web

from services.dashboard import actions, inputs
from services.dashboard.context import Context
from services.dashboard.html_pages import config_page, runs_page
from services.dashboard.html_run import log_page, run_page
from services.dashboard.listing import RunRow
from services.dashboard.live import RunStream, follow_listing, follow_run, open_stream

CONTEXT = web.AppKey("dashboard", Context)
RUN = "/runs/{ns}/{run}"
MAX_FORM = 4096


def add(router: web.UrlDispatcher) -> None:
    router.add_get("/", home)
    router.add_get("/runs", runs)
    router.add_get("/runs/stream", runs_stream)
    router.add_get(RUN, run)
    router.add_get(RUN + "/stream", run_stream)
    router.add_get(RUN + "/logs/{step}", step_log)
    router.add_get(RUN + "/artifacts/{step}/{index}", artifact)
    router.add_post(RUN + "/cancel", cancel)
    router.add_post(RUN + "/rerun", rerun)
    router.add_get("/configs/{ns}/{name}", config)


async def home(_: web.Request) -> web.Response:
    raise web.HTTPSeeOther("/runs")


def ctx_of(request: web.Request) -> Context:
    return request.app[CONTEXT]


def run_ref(request: web.Request) -> tuple[str, str]:
    return inputs.namespace(request.match_info["ns"]), inputs.name(request.match_info["run"], "run")


def wanted(request: web.Request) -> inputs.RunFilter:
    return inputs.run_filter(request.query, list(request.query.keys()))


def html(text: str, status: int = 200) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/html")


async def visible_runs(request: web.Request, filt: inputs.RunFilter) -> list[RunRow]:
    """The listing, without the namespaces the request may not read."""
    ctx = ctx_of(request)
    rows = await ctx.reader.runs(filt)
    shown = await ctx.gate.visible(request, {r.namespace for r in rows})
    return [r for r in rows if r.namespace in shown]


async def runs(request: web.Request) -> web.Response:
    filt = wanted(request)
    return html(runs_page(await visible_runs(request, filt), filt))


async def run(request: web.Request) -> web.Response:
    ns, name = run_ref(request)
    ctx = ctx_of(request)
    view, logs = await ctx.reader.run_page_with_logs(ns, name)
    return html(run_page(view, logs, ctx.csrf.token(ns, name)))


async def step_log(request: web.Request) -> web.Response:
    ns, name = run_ref(request)
    step = inputs.step(request.match_info["step"])
    return html(log_page(ns, name, step, await ctx_of(request).reader.log(ns, name, step)))


async def artifact(request: web.Request) -> web.StreamResponse:
    ns, name = run_ref(request)
    step = inputs.step(request.match_info["step"])
    index = inputs.index(request.match_info["index"], "artifact number")
    filename, chunks = await ctx_of(request).reader.artifact(ns, name, step, index)
    response = web.StreamResponse(headers={
        "Content-Type": "application/octet-stream",
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename, safe='')}",
    })  # fmt: skip
    await response.prepare(request)
    async for chunk in chunks:
        await response.write(chunk)
    await response.write_eof()
    return response


async def config(request: web.Request) -> web.Response:
    ns = inputs.namespace(request.match_info["ns"])
    name = inputs.name(request.match_info["name"], "config")
    return html(config_page(await ctx_of(request).reader.config(ns, name)))


async def _checked_form(request: web.Request, ns: str, name: str) -> None:
    if request.content_length is not None and request.content_length > MAX_FORM:
        raise inputs.BadInput(413, f"form larger than {MAX_FORM} bytes")
    form = await request.post()
    token = form.get("csrf")
    if not isinstance(token, str) or not ctx_of(request).csrf.valid(ns, name, token):
        raise inputs.BadInput(403, "missing or stale form token: reload the run's page and try again")


async def cancel(request: web.Request) -> web.Response:
    ns, name = run_ref(request)
    await _checked_form(request, ns, name)
    await actions.cancel(ctx_of(request).reader.store, ns, name)
    raise web.HTTPSeeOther(f"/runs/{ns}/{name}")


async def rerun(request: web.Request) -> web.Response:
    ns, name = run_ref(request)
    await _checked_form(request, ns, name)
    ctx = ctx_of(request)
    original = await ctx.reader.run(ns, name)
    subject = await ctx.gate.subject(request) if ctx.gate.access is not None else None
    by = subject.user if subject is not None else ctx.actor
    created = await actions.rerun(ctx.reader.store, original, by[:255], ctx.reader.clock())
    raise web.HTTPSeeOther(f"/runs/{ns}/{created}")


async def run_stream(request: web.Request) -> web.StreamResponse:
    ns, name = run_ref(request)
    ctx = ctx_of(request)
    with ctx.feed.subscribe() as changes:
        async with ctx.live_lines(ns, name) as lines:
            first = await ctx.reader.run(ns, name)
            response = await open_stream(request)
            with contextlib.suppress(ConnectionResetError):
                stream = RunStream(response, ctx.reader.clock, lambda step: ctx.reader.log(ns, name, step))
                await follow_run(stream, first, changes, lines)
    return response


async def runs_stream(request: web.Request) -> web.StreamResponse:
    filt = wanted(request)
    ctx = ctx_of(request)
    with ctx.feed.subscribe() as changes:
        response = await open_stream(request)
        with contextlib.suppress(ConnectionResetError):
            await follow_listing(response, filt, changes, ctx.reader.clock)
    return response
