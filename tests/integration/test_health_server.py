"""The operational HTTP surface every service gets from adapters.runtime.lifecycle (adapters.runtime.health).

Covers: /healthz answers 200; /readyz answers 200 with no checks or passing ones, 503 naming a
failing or raising check; /metrics serves the registry in the Prometheus text format with its
content type; C8S_METRICS_PORT defaults to 9090 in Kubernetes mode and off in local mode, 0 is off.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from adapters.jetstream.server import free_port
from adapters.runtime.health import CONTENT_TYPE, HealthSettings, Readiness, serving
from adapters.runtime.metrics import Registry
from adapters.runtime.settings import from_env


@pytest.fixture
async def health() -> AsyncIterator[tuple[str, Readiness, Registry]]:
    readiness, registry = Readiness(), Registry()
    settings = HealthSettings(metrics_port=free_port(), metrics_host="127.0.0.1")
    async with serving(settings, readiness, registry) as port:
        yield f"http://127.0.0.1:{port}", readiness, registry


async def _get(url: str) -> tuple[int, str, str]:
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        return resp.status, await resp.text(), resp.headers.get("Content-Type", "")


async def test_healthz_answers_ok(health: tuple[str, Readiness, Registry]) -> None:
    """/healthz answers 200 while the process runs."""
    status, _, _ = await _get(health[0] + "/healthz")
    assert status == 200


async def test_readyz_follows_the_checks(health: tuple[str, Readiness, Registry]) -> None:
    """/readyz is 200 with no checks or passing ones, 503 naming failing and raising checks."""
    url, readiness, _ = health
    assert (await _get(url + "/readyz"))[0] == 200
    readiness.add("nats", lambda: True)
    assert (await _get(url + "/readyz"))[0] == 200
    readiness.add("kube", lambda: False)
    readiness.add("broken", lambda: 1 / 0 == 0)
    status, text, _ = await _get(url + "/readyz")
    assert (status, text) == (503, "not ready: broken, kube\n")
    readiness.remove("kube")
    readiness.remove("broken")
    assert (await _get(url + "/readyz"))[0] == 200


async def test_metrics_serves_the_registry(health: tuple[str, Readiness, Registry]) -> None:
    """/metrics is the registry's text rendering, with the Prometheus text content type."""
    url, _, registry = health
    registry.counter("c8s_test_total", "a test counter", ("kind",)).inc(kind="x")
    status, text, content_type = await _get(url + "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain; version=0.0.4")
    assert CONTENT_TYPE.startswith("text/plain; version=0.0.4")
    assert 'c8s_test_total{kind="x"} 1' in text


def test_port_defaults_by_mode() -> None:
    """The port is 9090 in Kubernetes mode, off in local mode, and C8S_METRICS_PORT overrides both."""
    assert from_env(HealthSettings, {"C8S_MODE": "kubernetes"}).port == 9090
    assert from_env(HealthSettings, {"C8S_MODE": "local"}).port == 0
    assert from_env(HealthSettings, {"C8S_MODE": "kubernetes", "C8S_METRICS_PORT": "0"}).port == 0
    assert from_env(HealthSettings, {"C8S_METRICS_PORT": "9100"}).port == 9100


async def test_port_zero_serves_nothing() -> None:
    """With the port off, serving yields 0 and listens nowhere."""
    async with serving(HealthSettings(metrics_port=0)) as port:
        assert port == 0
