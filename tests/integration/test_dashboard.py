"""The dashboard over real parts: a real nats-server (bus history, KV resource store, live log lines
on core NATS) and a file:// object store (tests/support/dashboard_harness.py).

Covers: the runs listing newest first with its filters, in HTML and JSON; a run's page with its
facts, steps as a DAG, stored log (escaped, coloured, a permalink per line), event history and
artifact links; an artifact downloads with its bytes; the JSON API of a run, its steps, events,
logs and a config; an unknown run is a 404 page (JSON under /api); a bad query is a 400; Cancel
needs the run's CSRF token and sets spec.cancelRequested; Re-run creates a new run and redirects
to it; the run stream sends step changes from the store's watch, live log lines from the bus
(escaped), the stored log once shipped, and ends when the run is final; the listing's stream says
`changed` when a run it shows changes; a config's page shows its stats and recent runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.jetstream.server import NatsServer
from api.pipelineconfig import PipelineConfig, PipelineConfigStatus
from api.pipelinerun import Condition, PipelineRun, StepStatus
from tests.support.dashboard_harness import NS, T0, Dashboard, dashboard, sse


async def _next(events: AsyncIterator[tuple[str, str]], kind: str) -> dict[str, object]:
    """The data of the next event of `kind` (others, e.g. a duration tick, are passed over)."""
    async with asyncio.timeout(10):
        async for got, data in events:
            if got == kind:
                return dict(json.loads(data))
    raise AssertionError(f"the stream ended before a {kind!r} event")


@pytest.fixture
async def dash(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[Dashboard]:
    async with dashboard(nats_server, tmp_path / "objects") as d:
        yield d


async def _finished_run(dash: Dashboard) -> PipelineRun:
    run = await dash.run("app-ci-done")
    await dash.accepted(run)
    log_url = await dash.objects.put(
        f"{NS}/app-ci-done/build.log", b"compiling\n\x1b[31m<b>error</b>\x1b[0m\n"
    )
    art_url = await dash.objects.put(f"{NS}/app-ci-done/artifacts/build/app.bin", bytes(range(256)) * 1000)
    steps = [
        StepStatus(name="build", phase="Failed", exit_code=2, start_time=T0, completion_time=T0,
                   log_url=log_url, artifact_urls=[art_url]),
        StepStatus(name="test", phase="Skipped", reason="DependencyFailed"),
    ]  # fmt: skip
    conditions = [Condition(type="Succeeded", status="False", reason="StepFailed", message="build failed")]
    await dash.status(
        run, phase="Failed", start_time=T0, completion_time=T0, steps=steps, conditions=conditions
    )
    return run


async def test_listing_newest_first_and_filtered(dash: Dashboard) -> None:
    """/runs lists newest first; ?branch= and ?phase= filter; the JSON API says the same."""
    await dash.run("app-ci-a", branch="main")
    await dash.run("app-ci-b", branch="dev", phase="Running")
    status, page = await dash.get("/runs")
    assert status == 200 and page.index("app-ci-b") < page.index("app-ci-a")
    _, page = await dash.get("/runs?branch=dev")
    assert "app-ci-b" in page and "app-ci-a" not in page
    status, body = await dash.get(f"/api/runs?namespace={NS}&phase=Pending")
    assert status == 200 and [r["name"] for r in json.loads(body)["runs"]] == ["app-ci-a"]


async def test_run_page_shows_everything(dash: Dashboard) -> None:
    """Facts, DAG, escaped coloured log with permalinks, skipped step's reason, events, artifact link."""
    await _finished_run(dash)
    status, page = await dash.get(f"/runs/{NS}/app-ci-done")
    assert status == 200
    assert 'id="run-phase">Failed' in page and "StepFailed: build failed" in page
    assert 'href="https://github.com/org/app/commit/abcdef1"' in page
    assert page.index('aria-label="stage 1"') < page.index('id="step-build"') < page.index('id="step-test"')
    assert '<span class="fg1">&lt;b&gt;error&lt;/b&gt;</span>' in page and "<b>error" not in page
    assert '<a href="#build-L2">2</a>' in page and "DependencyFailed" in page
    assert "run.accepted" in page and "data-stream" not in page  # final: no live stream
    assert f'href="/runs/{NS}/app-ci-done/artifacts/build/0"' in page


async def test_artifact_downloads_its_bytes(dash: Dashboard) -> None:
    """The artifact streams through the dashboard with its bytes and file name; a wrong index is 404."""
    await _finished_run(dash)
    async with dash.session.get(f"{dash.url}/runs/{NS}/app-ci-done/artifacts/build/0") as response:
        assert response.status == 200 and await response.read() == bytes(range(256)) * 1000
        assert "app.bin" in response.headers["Content-Disposition"]
    assert (await dash.get(f"/runs/{NS}/app-ci-done/artifacts/build/1"))[0] == 404
    assert (await dash.get(f"/runs/{NS}/app-ci-done/artifacts/test/0"))[0] == 404


async def test_json_api(dash: Dashboard) -> None:
    """The run as `c8s get -o json`, its steps, its events, its log as text, a config's view."""
    await dash.config()
    await _finished_run(dash)
    base = f"/api/runs/{NS}/app-ci-done"
    run = json.loads((await dash.get(base))[1])
    assert run["metadata"]["name"] == "app-ci-done" and run["status"]["phase"] == "Failed"
    steps = json.loads((await dash.get(base + "/steps"))[1])["steps"]
    assert [(s["name"], s["level"], s["depends_on"]) for s in steps] == [
        ("build", 0, []),
        ("test", 1, ["build"]),
    ]
    events = json.loads((await dash.get(base + "/events"))[1])["events"]
    assert [e["type"] for e in events] == ["run.requested", "run.accepted"] and events[0]["event"]["spec"]
    assert (await dash.get(base + "/logs/build"))[1].startswith("compiling\n")
    assert (await dash.get(base + "/logs/test"))[0] == 404
    config = json.loads((await dash.get(f"/api/configs/{NS}/app-ci"))[1])
    assert [r["name"] for r in config["runs"]] == ["app-ci-done"]


async def test_unknown_and_bad_requests(dash: Dashboard) -> None:
    """Unknown run: 404 page (JSON under /api); bad names, `..` and bad queries: 4xx, never 5xx."""
    status, page = await dash.get(f"/runs/{NS}/nope")
    assert status == 404 and "no pipelinerun &#x27;nope&#x27;" in page and "<html" in page
    status, body = await dash.get(f"/api/runs/{NS}/nope")
    assert status == 404 and json.loads(body)["status"] == 404
    for path in (f"/runs/{NS}/..", f"/runs/{NS}/%2e%2e%2fx", f"/runs/{NS}/" + "a" * 300, "/runs?phase=Done",
                 "/runs?x=1", f"/configs/{NS}/Bad", "/runs/../../etc/passwd"):  # fmt: skip
        status, _ = await dash.get(path)
        assert 400 <= status < 500, path


async def test_cancel_needs_token_and_sets_cancel_requested(dash: Dashboard) -> None:
    """Cancel without the run's token is 403 and changes nothing; with it, spec.cancelRequested."""
    await dash.run("app-ci-c", phase="Running")
    url = f"{dash.url}/runs/{NS}/app-ci-c/cancel"
    async with dash.session.post(url, data={"csrf": dash.csrf.token(NS, "other")}) as response:
        assert response.status == 403
    assert not (await dash.store.get(PipelineRun, NS, "app-ci-c")).spec.cancel_requested
    token = dash.csrf.token(NS, "app-ci-c")
    async with dash.session.post(url, data={"csrf": token}, allow_redirects=False) as response:
        assert response.status == 303 and response.headers["Location"] == f"/runs/{NS}/app-ci-c"
    assert (await dash.store.get(PipelineRun, NS, "app-ci-c")).spec.cancel_requested


async def test_rerun_creates_a_new_run(dash: Dashboard) -> None:
    """Re-run creates a run of the same commit and branch and redirects to its page."""
    await _finished_run(dash)
    url = f"{dash.url}/runs/{NS}/app-ci-done/rerun"
    async with dash.session.post(
        url, data={"csrf": dash.csrf.token(NS, "app-ci-done")}, allow_redirects=False
    ) as r:
        assert r.status == 303
        name = r.headers["Location"].rsplit("/", 1)[-1]
    created = await dash.store.get(PipelineRun, NS, name)
    assert name.startswith("app-ci-") and name != "app-ci-done"
    assert (created.spec.commit, created.spec.branch, created.spec.triggered_by) == (
        "abcdef1",
        "main",
        "dashboard",
    )


async def test_run_stream_sends_steps_and_live_lines(dash: Dashboard) -> None:
    """A step change from the store's watch and a live line from the bus reach the stream; it ends
    when the run is final."""
    run = await dash.run("app-ci-live", phase="Running", start_time=T0, steps=[StepStatus(name="build")])
    await asyncio.wait_for(dash.feed.ready.wait(), 10)
    async with dash.session.get(f"{dash.url}/runs/{NS}/app-ci-live/stream") as response:
        events = sse(response)
        assert (await _next(events, "step"))["phase"] == "Pending"
        await dash.status(
            run, seq=2, phase="Running", start_time=T0, steps=[StepStatus(name="build", phase="Running")]
        )
        assert (await _next(events, "step"))["phase"] == "Running"
        await dash.live_line(run, "build", b"\x1b[32m<ok>\x1b[0m\n")
        got = await _next(events, "log")
        assert got["step"] == "build" and got["html"] == '<span class="fg2">&lt;ok&gt;</span>'
        url = await dash.objects.put(f"{NS}/app-ci-live/build.log", b"<ok>\nshipped\n")
        done = StepStatus(name="build", phase="Succeeded", exit_code=0, log_url=url)
        await dash.status(run, seq=3, phase="Succeeded", start_time=T0, completion_time=T0, steps=[done])
        rest = [(kind, json.loads(data)) async for kind, data in events]
        assert rest[-1][0] == "end"
        [stored] = [data for kind, data in rest if kind == "stored"]
        assert stored["step"] == "build" and '<a href="#build-L2">2</a>shipped' in stored["html"]


async def test_listing_stream_says_changed(dash: Dashboard) -> None:
    """/runs/stream?branch=main sends `changed` when a run on main changes (the filter itself is
    listing.matches, unit-tested)."""
    run = await dash.run("app-ci-main", branch="main")
    await asyncio.wait_for(dash.feed.ready.wait(), 10)
    async with dash.session.get(f"{dash.url}/runs/stream?branch=main") as response:
        events = sse(response)
        await dash.status(run, phase="Running")
        assert await _next(events, "changed") == {}


async def test_config_page(dash: Dashboard) -> None:
    """A config's page shows its projected stats and its recent runs."""
    config = await dash.config()
    stats = PipelineConfigStatus(
        total_runs=4, finished_runs=4, succeeded_runs=3, success_rate=0.75, observed_sequence=9
    )
    await dash.store.patch_status(PipelineConfig, NS, "app-ci", stats)
    await _finished_run(dash)
    status, page = await dash.get(f"/configs/{NS}/{config.metadata.name}")
    assert status == 200 and "75.0%" in page and "app-ci-done" in page
