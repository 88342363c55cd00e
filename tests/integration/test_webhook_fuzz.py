"""Hypothesis fuzz of the webhook endpoint over HTTP, against a real nats-server.

Three connected repositories (one per provider, one shared secret) receive generated requests:
random bytes, random JSON, documented payloads with random parts replaced, valid payloads; event
headers right, wrong or missing; delivery ids random; signatures missing, random, `sha256=` of the
body under a wrong key, of another body, or right; GitHub bodies sometimes form-encoded. After each
request: the answer is never a 5xx, and the number of PipelineRuns grew only if the request carried
the right signature (checked by an oracle independent of the code under test).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.jetstream.server import NatsServer
from api.pipelineconfig import Matrix
from services.webhook.providers.signatures import sign
from tests.support.webhook_harness import Harness, harness
from tests.support.webhooks import EVENTS, REPOSITORIES, headers_for, payload

SECRET = b"s3cret"
SIGNATURE_HEADER = {
    "github": "X-Hub-Signature-256",
    "gitlab": "X-Gitlab-Token",
    "bitbucket": "X-Hub-Signature",
}
EVENT_HEADER = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event", "bitbucket": "X-Event-Key"}

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | header_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(header_text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_payload(draw: st.DrawFn, name: str) -> bytes:
    """The documented payload `name` with some top-level or nested values replaced."""
    data: Any = payload(name)
    for _ in range(draw(st.integers(1, 3))):
        target = data
        while isinstance(target, dict) and target and draw(st.booleans()):
            child = target[draw(st.sampled_from(sorted(target)))]
            if not isinstance(child, dict) or not child:
                break
            target = child
        if isinstance(target, dict) and target:
            target[draw(st.sampled_from(sorted(target)))] = draw(json_values)
    return json.dumps(data).encode()


@st.composite
def bodies(draw: st.DrawFn, name: str) -> bytes:
    """Mostly provider-shaped bodies (valid or mutated), sometimes arbitrary bytes or JSON."""
    kind = draw(st.sampled_from(["bytes", "json", "mutated", "mutated", "valid", "valid", "valid"]))
    if kind == "bytes":
        return draw(st.binary(max_size=512))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "mutated":
        return draw(mutated_payload(name))
    return json.dumps(payload(name)).encode()


@st.composite
def signature(draw: st.DrawFn, provider: str, body: bytes) -> str | None:
    """Missing, random, made with a wrong key or for another body, or right (the most often)."""
    choice = draw(st.sampled_from(["none", "random", "wrong-key", "other-body", "right", "right", "right"]))
    if choice == "none":
        return None
    if choice == "random":
        return draw(header_text)
    if provider == "gitlab":
        key = {"wrong-key": draw(header_text), "other-body": SECRET.decode() + "x", "right": SECRET.decode()}
        return key[choice]
    if choice == "wrong-key":
        return sign(draw(st.binary(min_size=1, max_size=16).filter(lambda k: k != SECRET)), body)
    if choice == "other-body":
        return sign(SECRET, body + draw(st.binary(min_size=1, max_size=8)))
    return sign(SECRET, body)


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, dict[str, str], bytes]:
    name = draw(st.sampled_from(sorted(EVENTS)))
    provider, event = EVENTS[name]
    body = draw(bodies(name))
    event = draw(st.sampled_from([event, event, event, "missing"]) | header_text)
    headers = headers_for(provider, event, body, SECRET, draw(header_text))
    del headers[SIGNATURE_HEADER[provider]]
    if event == "missing":
        del headers[EVENT_HEADER[provider]]
    if provider == "github" and draw(st.integers(0, 4)) == 0:
        body = urlencode({"payload": body.decode("utf-8", "replace")}).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    sig = draw(signature(provider, body))
    if sig is not None:
        headers[SIGNATURE_HEADER[provider]] = sig
    return provider, headers, body


def correctly_signed(provider: str, headers: dict[str, str], body: bytes) -> bool:
    """The oracle: the provider's documented rule, written independently of the receiver."""
    value = headers.get(SIGNATURE_HEADER[provider])
    if value is None:
        return False
    if provider == "gitlab":
        return value.strip() == SECRET.decode()
    return value == sign(SECRET, body)


class Fuzzed:
    """The receiver under fuzz, and every run name known so far (listed, or answered in a 202).

    Runs are compared by name against everything known, not by count: a list of the KV store has
    been seen to come back short now and then, which must not make the next example look guilty.
    """

    def __init__(self, hook: Harness) -> None:
        self.hook = hook
        self.known: set[str] = set()

    async def new_runs(self) -> set[str]:
        listed = {run.metadata.name for run in await self.hook.runs()}
        new, self.known = listed - self.known, self.known | listed
        return new


@pytest.fixture
async def fuzzed(nats_server: NatsServer) -> AsyncIterator[Fuzzed]:
    async with harness(nats_server) as h:
        matrix = Matrix(dimensions={"v": ["1", "2"]})
        for provider, repository in REPOSITORIES.items():
            await h.connect_repo(provider, repository, ns=provider, branches=["**"], matrix=matrix)
        yield Fuzzed(h)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests())
async def test_never_5xx_and_no_run_without_signature(
    fuzzed: Fuzzed, request: tuple[str, dict[str, str], bytes]
) -> None:
    """Whatever arrives, the answer is below 500, and runs appear only for a correctly signed request."""
    provider, headers, body = request
    await fuzzed.new_runs()
    status, reply = await fuzzed.hook.post(provider, headers, body)
    event(f"{provider} {status}")
    assert status < 500, reply
    signed = correctly_signed(provider, headers, body)
    if status == 202:
        assert reply["runs"] and signed, reply
        fuzzed.known |= set(reply["runs"])
    new = await fuzzed.new_runs()
    assert signed or not new, (status, reply, new)
