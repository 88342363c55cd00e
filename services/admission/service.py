"""The admission webhook process: an aiohttp HTTPS server answering POST /validate.

The apiserver sends an AdmissionReview (admission.k8s.io/v1); the answer carries the same uid and
the verdict of services.admission.deciding, within the review deadline (a slower cluster read is
refused with 503, not left to the apiserver's timeout). A body that is not an AdmissionReview is
answered 400. One log line per review; reviews are counted by kind and verdict.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from adapters.runtime.metrics import REGISTRY
from services.admission.deciding import Admission
from services.admission.reviews import AdmissionRequest, UnreadableReview, Verdict, read_request, response

log = structlog.get_logger("c8s.admission")
REVIEWS = REGISTRY.counter(
    "c8s_admission_reviews_total", "Admission reviews answered, by kind and verdict", ("kind", "verdict")
)


def make_app(admission: Admission, deadline_seconds: float) -> web.Application:
    async def validate(request: web.Request) -> web.Response:
        try:
            review = read_request(await request.read())
        except UnreadableReview as e:
            return web.Response(status=400, text=str(e))
        verdict = await _decide(admission, review, deadline_seconds)
        _record(review, verdict)
        return web.Response(body=response(review.uid, verdict), content_type="application/json")

    app = web.Application()
    app.router.add_post("/validate", validate)
    return app


async def _decide(admission: Admission, review: AdmissionRequest, deadline: float) -> Verdict:
    what = f"{review.kind.kind} {review.namespace}/{review.name}"
    try:
        async with asyncio.timeout(deadline):
            return await admission.review(review)
    except TimeoutError:
        return Verdict.unsure(what, f"the cluster did not answer within {deadline:g}s")


def _record(review: AdmissionRequest, verdict: Verdict) -> None:
    outcome = "allowed" if verdict.allowed else f"refused-{verdict.code}"
    REVIEWS.inc(kind=review.kind.kind or "?", verdict=outcome)
    log.info(
        "admission.review", kind=review.kind.kind, namespace=review.namespace, name=review.name,
        operation=review.operation, allowed=verdict.allowed, message=verdict.message or None,
    )


def tls_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context


@contextlib.asynccontextmanager
async def listening(app: web.Application, host: str, port: int, tls: ssl.SSLContext) -> AsyncIterator[int]:
    """Serve `app` over TLS while the context is open; yields the bound port."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port, ssl_context=tls)
        await site.start()
        yield next((int(a[1]) for a in runner.addresses if isinstance(a, tuple)), port)
    finally:
        await runner.cleanup()
