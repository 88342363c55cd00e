"""Hypothesis fuzz of the webhook endpoint over HTTP, against a real nats-server.

Three connected repositories (one per provider, one shared secret) receive generated requests:
random bytes, random JSON, documented payloads with random parts replaced (strings with control
characters, NUL and non-ASCII among the replacements), valid payloads, payloads with a value
nested hundreds to tens of thousands of levels deep; event headers right, wrong or missing;
delivery ids random; signatures missing, random, `sha256=` of the body under a wrong key, of
another body, or right; GitHub bodies sometimes form-encoded. After each request: the answer is
never a 5xx, the number of PipelineRuns grew only if the request carried the right signature
(checked by an oracle independent of the code under test), and no run has a branch with a
control character.

A second fuzz writes raw HTTP/1.1 on a socket, which a client library would refuse to send:
header lines up to 20 kB, header values with control characters (NUL, DEL, bare CR), bodies
shorter or longer than their Content-Length (or without one), each sent at once or stalled
part-way (a slow sender). The server answers below 500 or closes the connection, and a stalled
sender is closed within the configured timeouts.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from adapters.jetstream.server import NatsServer
from api.pipelineconfig import Matrix
from services.webhook.http import Limits
from services.webhook.providers.signatures import sign
from tests.support.webhook_harness import Harness, MiB, harness
from tests.support.webhooks import EVENTS, REPOSITORIES, headers_for, payload

SECRET = b"s3cret"
SIGNATURE_HEADER = {
    "github": "X-Hub-Signature-256",
    "gitlab": "X-Gitlab-Token",
    "bitbucket": "X-Hub-Signature",
}
EVENT_HEADER = {"github": "X-GitHub-Event", "gitlab": "X-Gitlab-Event", "bitbucket": "X-Event-Key"}

header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80)
any_text = st.text(max_size=40)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | header_text | any_text,
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
def deeply_nested(draw: st.DrawFn, name: str) -> bytes:
    """The documented payload with one more key whose value is nested hundreds to 50k levels deep."""
    depth = draw(st.integers(100, 50_000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
    inner = b"1" if opener == b'{"a":' else b""
    raw = json.dumps(payload(name)).encode()
    return raw[:-1] + b', "deep": ' + opener * depth + inner + closer * depth + b"}"


@st.composite
def bodies(draw: st.DrawFn, name: str) -> bytes:
    """Mostly provider-shaped bodies (valid or mutated), sometimes arbitrary bytes, JSON or deep."""
    kind = draw(st.sampled_from(["bytes", "json", "deep", "branch", "mutated", "mutated", "valid", "valid"]))
    if kind == "bytes":
        return draw(st.binary(max_size=512))
    if kind == "json":
        return json.dumps(draw(json_values)).encode()
    if kind == "deep":
        return draw(deeply_nested(name))
    if kind == "branch" and "ref" in payload(name):
        prefix = draw(st.sampled_from(["refs/heads/", "refs/tags/"]))
        return json.dumps(payload(name) | {"ref": prefix + draw(any_text)}).encode()
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
    branches = [run.spec.branch or "" for run in await fuzzed.hook.runs() if run.metadata.name in new]
    assert not any(ord(c) < 0x20 or ord(c) == 0x7F for b in branches for c in b), branches


RAW_LIMITS = Limits(
    max_body_bytes=1 * MiB,
    deadline_seconds=8.0,
    header_timeout_seconds=1.0,
    body_timeout_seconds=1.0,
    in_flight_bytes=4 * MiB,
)
#: How long a stalled sender may stay connected: both timeouts, the linger, and room for a loaded machine.
CLOSE_WITHIN = RAW_LIMITS.header_timeout_seconds + RAW_LIMITS.body_timeout_seconds + 2.0 + 8.0
token_text = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz-ABCXYZ0123456789"), min_size=1, max_size=24)
hostile_values = (
    header_text
    | st.text(st.characters(max_codepoint=0x7F), max_size=40)  # control characters, NUL, DEL, CR
    | st.integers(8_000, 20_000).map(lambda n: "a" * n)  # beyond aiohttp's 8190-byte line
)


@st.composite
def raw_requests(draw: st.DrawFn) -> tuple[bytes, int]:
    """(bytes of one HTTP/1.1 request, where to stall or -1): GitHub-shaped, with hostile headers,
    a body that is signed, deep or random, and a Content-Length that is right, wrong or missing."""
    body = draw(
        st.sampled_from([json.dumps(payload("github_push")).encode(), b""]) | deeply_nested("github_push")
    )
    body = body or draw(st.binary(max_size=256))
    headers = headers_for("github", "push", body, SECRET, draw(header_text))
    headers["Content-Length"] = str(len(body) + draw(st.sampled_from([0, 0, 0, -1, 5])))
    if draw(st.booleans()):
        del headers[draw(st.sampled_from(sorted(headers)))]
    extra = draw(st.lists(st.tuples(token_text, hostile_values), max_size=3))
    lines = [f"{k}: {v}" for k, v in [*headers.items(), *extra]]
    head = "\r\n".join(["POST /webhooks/github HTTP/1.1", "Host: c8s", *lines, "", ""])
    raw = head.encode() + body
    stall = draw(st.one_of(st.just(-1), st.integers(1, len(raw) - 1)))
    return raw, stall


async def send_raw(h: Harness, raw: bytes, stall: int) -> tuple[list[int], bool, float]:
    """Send (or stall part-way), then read until EOF: (statuses answered, closed, seconds taken)."""
    host, port = h.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    began = time.monotonic()
    writer.write(raw if stall < 0 else raw[:stall])
    received = b""
    try:
        async with asyncio.timeout(CLOSE_WITHIN):
            while chunk := await reader.read(65536):
                received += chunk
                if stall < 0 and b"\r\n" in received:
                    break  # a complete request was answered: no need to wait for keep-alive to end
    except (TimeoutError, ConnectionError):
        pass
    closed = reader.at_eof() or writer.is_closing()
    writer.close()
    lines = received.split(b"\r\n")
    statuses = [int(line.split()[1]) for line in lines if line.startswith((b"HTTP/1.1 ", b"HTTP/1.0 "))]
    return statuses, closed, time.monotonic() - began


@pytest.fixture
async def raw_hook(nats_server: NatsServer) -> AsyncIterator[Harness]:
    async with harness(nats_server, RAW_LIMITS) as h:
        await h.connect_repo("github", REPOSITORIES["github"], ns="github", branches=["**"])
        yield h


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=raw_requests())
async def test_raw_requests_never_5xx_and_stalls_are_closed(
    raw_hook: Harness, request: tuple[bytes, int]
) -> None:
    """Hostile bytes on the socket get answers below 500, a whole request gets an answer, and a
    sender that stalls part-way is disconnected within the timeouts."""
    raw, stall = request
    statuses, closed, took = await send_raw(raw_hook, raw, stall)
    event(f"stall={stall >= 0} statuses={statuses}")
    assert all(status < 500 for status in statuses), statuses
    if stall < 0:
        assert statuses, f"no answer to a whole request ({took:.1f}s)"
    else:
        assert closed, f"a stalled sender still connected after {took:.1f}s"
