"""Hypothesis over the dashboard's routes, against real parts (nats-server, KV store, file objects).

Generated request targets: every route's shape with each segment drawn from real names, names of
runs that do not exist, over-long names, `..` and its encodings, slashes, percent-escapes,
unicode and control characters; query strings with known and unknown keys and arbitrary values;
and GET or POST. After each request: the answer is never a 5xx, an error page is HTML (JSON under
/api/), and nothing was created or cancelled (a POST without the run's token changes nothing).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.jetstream.server import NatsServer
from api.pipelinerun import PipelineRun, StepStatus
from tests.support.dashboard_harness import NS, T0, Dashboard, dashboard

ROUTES = (
    "/runs/{ns}/{run}", "/runs/{ns}/{run}/logs/{step}", "/runs/{ns}/{run}/artifacts/{step}/{index}",
    "/configs/{ns}/{run}", "/api/runs/{ns}/{run}", "/api/runs/{ns}/{run}/steps",
    "/api/runs/{ns}/{run}/events", "/api/runs/{ns}/{run}/logs/{step}", "/api/configs/{ns}/{run}",
    "/runs/{ns}/{run}/cancel", "/runs/{ns}/{run}/rerun", "/runs", "/api/runs", "/{run}",
)  # fmt: skip
segment = st.one_of(
    st.sampled_from([NS, "app-ci-1", "build", "0", "1", "nope", "..", "%2e%2e", "%2F", ".", "", "A", "a..b"]),
    st.text(min_size=1, max_size=20).map(lambda t: quote(t, safe="")),
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=20),
    st.integers(250, 3000).map(lambda n: "a" * n),
)
query_key = st.sampled_from(["namespace", "config", "branch", "pr", "phase", "limit", "x", "phase[]"])
query = st.lists(st.tuples(query_key, st.text(max_size=30)), max_size=4)


@st.composite
def targets(draw: st.DrawFn) -> tuple[str, str]:
    route = draw(st.sampled_from(ROUTES))
    if draw(st.booleans()):  # the real objects, so that pages, logs and queries are reached too
        path = route.format(ns=NS, run=draw(st.sampled_from(["app-ci-1", "app-ci"])), step="build", index="0")
    else:
        path = route.format(**{k: draw(segment) for k in ("ns", "run", "step", "index")})
    pairs = draw(query)
    if pairs:
        path += "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)
    return draw(st.sampled_from(["GET", "POST"])), path


@pytest.fixture
async def dash(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with dashboard(nats_server, tmp_path / "objects") as d:
        await d.config()
        url = await d.objects.put(f"{NS}/app-ci-1/build.log", b"hello\n")
        run = await d.run("app-ci-1")
        await d.status(run, phase="Running", start_time=T0, steps=[StepStatus(name="build", log_url=url)])
        yield d


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=targets())
async def test_routes_never_answer_5xx(dash: Dashboard, target: tuple[str, str]) -> None:
    """Whatever the path and query, the answer is below 500 and nothing changes without a token."""
    method, path = target
    async with dash.session.request(method, dash.url + path, allow_redirects=False) as response:
        body = await response.read()
        status, kind = response.status, response.content_type
        sent = response.url.raw_path  # the client removes dot segments: /api/runs/../../x is /x
    event(f"{method} {status}")
    assert status < 500, (path, body[:300])
    if status >= 400:
        wanted = "application/json" if sent.startswith("/api/") else "text/html"
        assert kind == wanted, (path, sent, status, kind)
    runs = await dash.store.list(PipelineRun, NS)
    assert [r.metadata.name for r in runs] == ["app-ci-1"] and not runs[0].spec.cancel_requested
