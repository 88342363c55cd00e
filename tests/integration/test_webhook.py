"""The webhook receiver end to end over HTTP, against a real nats-server (bus, KV resource store,
KV delivery log) on a real loopback socket.

Covers every answer: 202 with runs for GitHub/GitLab/Bitbucket pushes and pull requests, one run
per matrix combination; 200 for ping, ignored events, branch-filtered deliveries, duplicate
deliveries (also after a restart, hours later) and replayed bodies under a new delivery id; 200 for
events c8s does not act on; 400 malformed; 401 for missing or wrong signatures and missing secrets
(nothing created), and for an unknown repository, answered exactly as a bad signature (no
enumeration); 404 unknown provider; 413 by Content-Length, by counting a chunked body, and at the
default 25 MiB; 422 when the PipelineConfig is missing; 503 when NATS is down. Also: a retry whose
runs already exist creates nothing new; a repository connected in two namespaces runs in both; a
connection applied just before its first webhook is found; every decision is published as an
event; health probes.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelineconfig import Matrix, PipelineConfig
from api.secret import Secret
from services.webhook.http import Limits
from services.webhook.triggering import delivery_key
from tests.integration.conftest import eventually
from tests.support.webhook_harness import Harness, MiB, harness
from tests.support.webhooks import REPOSITORIES, payload, request_for

SECRET = b"s3cret"
GH = REPOSITORIES["github"]


@pytest.fixture
async def hook(nats_server: NatsServer) -> AsyncIterator[Harness]:
    async with harness(nats_server) as h:
        yield h


async def send(
    h: Harness, fixture: str, delivery: str = "d-1", secret: bytes = SECRET
) -> tuple[int, dict[str, Any]]:
    provider, headers, body = request_for(fixture, secret, delivery)
    return await h.post(provider, headers, body)


async def test_github_push_creates_a_run(hook: Harness) -> None:
    """A signed GitHub push answers 202 with the run, which carries commit, branch, actor and labels."""
    await hook.connect_repo("github", GH)
    status, body = await send(hook, "github_push")
    assert status == 202, body
    [run] = await hook.runs("team-a")
    assert body["runs"] == [run.metadata.name] and body["delivery"] == "d-1"
    assert (run.spec.commit, run.spec.branch, run.spec.triggered_by) == (
        "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c", "main", "octocat",
    )  # fmt: skip
    assert run.spec.triggered_at == hook.clock.now
    assert (
        run.metadata.labels["c8s.dev/config"] == "app-ci" and run.metadata.labels["c8s.dev/delivery"] == "d-1"
    )


async def test_accepted_event_published(hook: Harness) -> None:
    """The accepted delivery is published as WebhookAccepted naming the connection and the runs."""
    await hook.connect_repo("github", GH)
    _, body = await send(hook, "github_push")
    [event] = await hook.events()
    assert event.type == "webhook.accepted"
    assert (event.namespace, event.connection, event.delivery) == ("team-a", "app", "d-1")
    assert getattr(event, "runs", None) == body["runs"]


@pytest.mark.parametrize(
    ("fixture", "branch"),
    [
        ("github_push_tag", "v1.2.0"),
        ("github_pull_request_opened", "feature/readme"),
        ("gitlab_push", "main"),
        ("gitlab_tag_push", "v1.0.0"),
        ("gitlab_merge_request_open", "ms-viewport"),
        ("bitbucket_repo_push", "main"),
        ("bitbucket_pullrequest_created", "feature/matrix"),
    ],
)
async def test_each_provider_event_runs(hook: Harness, fixture: str, branch: str) -> None:
    """Each supported provider event, signed as its provider signs it, starts one run on its branch."""
    provider = fixture.split("_")[0]
    await hook.connect_repo(provider, REPOSITORIES[provider])
    status, body = await send(hook, fixture)
    assert status == 202, body
    [run] = await hook.runs()
    assert run.spec.branch == branch


async def test_one_run_per_matrix_combination(hook: Harness) -> None:
    """A 2x2 matrix with one exclusion starts three runs, each with its matrixIndex."""
    matrix = Matrix(
        dimensions={"go": ["1.21", "1.22"], "os": ["linux", "mac"]}, exclude=[{"go": "1.21", "os": "mac"}]
    )
    await hook.connect_repo("github", GH, matrix=matrix)
    status, body = await send(hook, "github_push")
    assert status == 202 and len(body["runs"]) == 3
    indexes = sorted(json.dumps(r.spec.matrix_index, sort_keys=True) for r in await hook.runs())
    assert len(set(indexes)) == 3 and '"mac"' in indexes[-1]


async def test_duplicate_delivery_creates_nothing(hook: Harness) -> None:
    """The same delivery id again answers 200 "duplicate delivery" and creates nothing."""
    await hook.connect_repo("github", GH)
    assert (await send(hook, "github_push"))[0] == 202
    status, body = await send(hook, "github_push")
    assert (status, body["reason"]) == (200, "duplicate delivery")
    assert len(await hook.runs()) == 1


async def test_duplicate_hours_later_after_restart(hook: Harness) -> None:
    """A redelivery hours later, to a restarted receiver, is still recognised."""
    await hook.connect_repo("gitlab", REPOSITORIES["gitlab"])
    assert (await send(hook, "gitlab_push"))[0] == 202
    hook.clock.advance(hours=5)
    await hook.restart()
    status, body = await send(hook, "gitlab_push")
    assert (status, body["reason"]) == (200, "duplicate delivery")
    assert len(await hook.runs()) == 1


async def test_retry_before_record_converges(hook: Harness) -> None:
    """A retry after the runs were created but before the delivery was recorded (a crash in between)
    answers 202 with the same runs and creates no second one."""
    await hook.connect_repo("github", GH)
    _, first = await send(hook, "github_push")
    await hook.deliveries._kv.purge(delivery_key("github", "d-1"))
    status, second = await send(hook, "github_push")
    assert (status, second["runs"]) == (202, first["runs"])
    assert len(await hook.runs()) == 1


async def test_another_delivery_of_same_commit_runs_again(hook: Harness) -> None:
    """Another push of the same commit (a new delivery id with its own body) starts a second run."""
    await hook.connect_repo("github", GH)
    await send(hook, "github_push", "d-1")
    again = json.dumps(payload("github_push") | {"before": "1" * 40}).encode()
    provider, headers, body = request_for("github_push", SECRET, "d-2", again)
    assert (await hook.post(provider, headers, body))[0] == 202
    assert len(await hook.runs()) == 2


async def test_replayed_body_with_new_delivery_id_starts_nothing(hook: Harness) -> None:
    """The same signed body under a new delivery id (not covered by the signature) is a replay:
    200 naming the first delivery, no second run, also after a restart."""
    await hook.connect_repo("github", GH)
    assert (await send(hook, "github_push", "d-1"))[0] == 202
    for delivery in ("d-2", "d-3"):
        status, body = await send(hook, "github_push", delivery)
        assert status == 200 and "duplicate payload" in body["reason"] and "'d-1'" in body["reason"]
        await hook.restart()
    assert len(await hook.runs()) == 1


@pytest.mark.parametrize("secret", [b"wrong", b""])
async def test_bad_signature_is_401_and_creates_nothing(hook: Harness, secret: bytes) -> None:
    """A signature made with another key, or an empty one, answers 401; no run, no delivery record."""
    await hook.connect_repo("bitbucket", REPOSITORIES["bitbucket"])
    status, body = await send(hook, "bitbucket_repo_push", secret=secret)
    assert (status, body["reason"]) == (401, "signature missing or invalid")
    assert await hook.runs() == []
    assert not await hook.deliveries.seen(delivery_key("bitbucket", "d-1"))
    [event] = await hook.events()
    assert (event.type, getattr(event, "status", None), event.connection) == ("webhook.rejected", 401, "app")


async def test_missing_signature_header_is_401(hook: Harness) -> None:
    """No X-Hub-Signature-256 at all answers 401."""
    await hook.connect_repo("github", GH)
    provider, headers, body = request_for("github_push", SECRET, "d-1")
    del headers["X-Hub-Signature-256"]
    assert (await hook.post(provider, headers, body))[0] == 401
    assert await hook.runs() == []


@pytest.mark.parametrize("stored", [None, "other-key"])
async def test_missing_secret_is_401(hook: Harness, stored: str | None) -> None:
    """A connection without webhookSecretRef, or whose Secret lacks webhook-secret, accepts nothing."""
    await hook.connect_repo("gitlab", REPOSITORIES["gitlab"], secret=stored)
    if stored:  # replace the Secret with one lacking the key
        meta = ObjectMeta(name="app-webhook", namespace="team-a")
        await hook.store.delete(Secret, "team-a", "app-webhook")
        await hook.store.apply(Secret(metadata=meta, string_data={"token": stored}))
    assert (await send(hook, "gitlab_push"))[0] == 401
    assert await hook.runs() == []
    [event] = await hook.events()
    assert "Secret" in getattr(event, "reason", "") or "webhookSecretRef" in getattr(event, "reason", "")


async def test_unknown_repository_is_answered_as_a_bad_signature(hook: Harness) -> None:
    """A repository no connection names gets the very answer a bad signature gets (issue 13.6), and
    only the published rejection says why."""
    unknown = await send(hook, "github_push", delivery="d-1")
    await hook.connect_repo("github", GH)
    forged = await send(hook, "github_push", delivery="d-1", secret=b"wrong")
    assert unknown == forged and unknown[0] == 401
    first = (await hook.events())[0]
    assert "octo-org/hello-world" in getattr(first, "reason", "")


async def test_connection_of_another_provider_is_401(hook: Harness) -> None:
    """A repository connected for GitLab does not accept a GitHub-shaped delivery (and says no more)."""
    await hook.connect_repo("gitlab", GH)
    assert (await send(hook, "github_push"))[0] == 401


async def test_unknown_provider_path_is_404(hook: Harness) -> None:
    """POST /webhooks/gitea is not a provider."""
    status, body = await hook.post("gitea", {}, b"{}")
    assert status == 404 and "gitea" in body["reason"]


@pytest.mark.parametrize("body", [b"{not json", b"[]", b""])
async def test_malformed_json_is_400(hook: Harness, body: bytes) -> None:
    """A body that is not the provider's JSON answers 400 with the reason."""
    await hook.connect_repo("github", GH)
    provider, headers, _ = request_for("github_push", SECRET, "d-1", body)
    status, reply = await hook.post(provider, headers, body)
    assert status == 400 and reply["reason"]


async def test_unsupported_event_is_200(hook: Harness) -> None:
    """A verified delivery of an event c8s does not handle answers 200 naming it, and starts nothing."""
    await hook.connect_repo("github", GH)
    provider, headers, body = request_for("github_push", SECRET, "d-1")
    status, reply = await hook.post(provider, headers | {"X-GitHub-Event": "issues"}, body)
    assert status == 200 and "'issues'" in reply["reason"]
    assert await hook.runs() == []


@pytest.mark.parametrize("fixture", ["github_ping", "github_push_delete", "github_pull_request_closed"])
async def test_ping_and_ignored_events_are_200(hook: Harness, fixture: str) -> None:
    """ping, a branch deletion and a closed pull request answer 200 and start nothing."""
    await hook.connect_repo("github", GH)
    status, _ = await send(hook, fixture)
    assert status == 200
    assert await hook.runs() == []


async def test_branch_filtered_is_200_with_reason(hook: Harness) -> None:
    """A push to a branch outside spec.branches answers 200 saying so, and starts nothing."""
    await hook.connect_repo("github", GH, branches=["release/*"])
    status, body = await send(hook, "github_push")
    assert status == 200 and "'main'" in body["reason"] and "release/*" in body["reason"]
    assert await hook.runs() == []


async def test_connection_without_config_ref_is_422(hook: Harness) -> None:
    """A connection without pipelineConfigRef answers 422 saying so."""
    await hook.connect_repo("github", GH, config=None)
    status, body = await send(hook, "github_push")
    assert status == 422 and "has no pipelineConfigRef" in body["reason"]


async def test_missing_pipeline_config_is_422(hook: Harness) -> None:
    """A pipelineConfigRef naming no PipelineConfig answers 422 naming it; nothing is recorded."""
    await hook.connect_repo("github", GH)
    await hook.store.delete(PipelineConfig, "team-a", "app-ci")
    status, body = await send(hook, "github_push")
    assert status == 422 and "PipelineConfig team-a/app-ci" in body["reason"]
    assert not await hook.deliveries.seen(delivery_key("github", "d-1"))


async def test_repository_connected_in_two_namespaces(hook: Harness) -> None:
    """Two connections (two namespaces, two secrets' worth of one key) each get their run."""
    await hook.connect_repo("github", GH, ns="team-a")
    await hook.connect_repo("github", "ssh://git@GitHub.com/octo-org/hello-world.git", ns="team-b")
    # The index follows the store's watch: a connection applied a moment ago may not be in it yet.
    await eventually(lambda: asyncio.sleep(0, result=len(hook.connections.index) == 2))
    status, body = await send(hook, "github_push")
    assert status == 202 and len(body["runs"]) == 1  # same config name, same deterministic name
    assert [len(await hook.runs(ns)) for ns in ("team-a", "team-b")] == [1, 1]
    assert {e.namespace for e in await hook.events()} == {"team-a", "team-b"}


async def test_only_connections_that_verify_run(hook: Harness) -> None:
    """Of two connections of one repository, only the one whose secret signed the request runs."""
    await hook.connect_repo("github", GH, ns="team-a", secret="s3cret")
    await hook.connect_repo("github", GH, ns="team-b", secret="another")
    assert (await send(hook, "github_push"))[0] == 202
    assert [len(await hook.runs(ns)) for ns in ("team-a", "team-b")] == [1, 0]


async def test_connection_applied_just_before_webhook_is_found(hook: Harness) -> None:
    """A connection stored a moment before its first webhook is found even if the watch lags."""
    hook.connections.index = type(hook.connections.index)()  # as if the watch had not caught up
    await hook.connect_repo("github", GH)
    hook.connections.index = type(hook.connections.index)()
    assert (await send(hook, "github_push"))[0] == 202


async def test_body_over_limit_by_content_length_is_413(hook: Harness) -> None:
    """A body just over 25 MiB answers 413, nothing is created, and the rejection is published."""
    await hook.connect_repo("github", GH)
    provider, headers, _ = request_for("github_push", SECRET, "big")
    status, _ = await hook.post(provider, headers, io.BytesIO(b" " * (25 * MiB + 1)))
    assert status == 413 and await hook.runs() == []
    assert [getattr(e, "status", None) for e in await hook.events()] == [413]


async def test_chunked_body_over_limit_is_413(nats_server: NatsServer) -> None:
    """A chunked body (no Content-Length to check) is counted as it is read and refused once over."""
    async with harness(nats_server, Limits(max_body_bytes=1024, deadline_seconds=8.0)) as h:

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(64):
                yield b" " * 100

        provider, headers, _ = request_for("github_push", SECRET, "d-1")
        status, _ = await h.post(provider, headers, chunks())
        assert status == 413


async def test_lying_content_length_is_413_without_reading(nats_server: NatsServer) -> None:
    """A Content-Length over the limit is refused at once, though the body never comes."""
    async with harness(nats_server, Limits(max_body_bytes=1024, deadline_seconds=8.0)) as h:
        host, port = h.url.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        request = f"POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Length: {30 * MiB}\r\n\r\n{{}}"
        writer.write(request.encode())
        status_line = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        await writer.wait_closed()
        assert status_line.split()[1] == b"413"


async def test_nats_down_is_503(hook: Harness) -> None:
    """With NATS stopped the receiver answers 503 (retryable) within the deadline, not 500."""
    await hook.connect_repo("github", GH)
    await asyncio.to_thread(hook.server.stop)
    try:
        status, body = await send(hook, "github_push")
    finally:
        await asyncio.to_thread(hook.server.start)
    assert status == 503 and "retry" in body["reason"]


async def test_health_probes(hook: Harness) -> None:
    """/healthz answers 200; /readyz answers 200 once the connection index is loaded."""
    for path in ("/healthz", "/readyz"):
        async with hook.session.get(hook.url + path) as resp:
            assert resp.status == 200


async def test_readyz_before_index_loaded(hook: Harness) -> None:
    """/readyz answers 503 while the connection index has not been loaded."""
    hook.connections.ready.clear()
    async with hook.session.get(hook.url + "/readyz") as resp:
        assert resp.status == 503


async def test_reply_is_quick(hook: Harness) -> None:
    """A matrix delivery is decided well inside the providers' 10 s (bounded by the deadline)."""
    matrix = Matrix(dimensions={"n": [str(i) for i in range(20)]})
    await hook.connect_repo("github", GH, matrix=matrix)
    timeout = aiohttp.ClientTimeout(total=9)
    provider, headers, body = request_for("github_push", SECRET, "d-1")
    async with hook.session.post(
        f"{hook.url}/webhooks/{provider}", headers=headers, data=body, timeout=timeout
    ) as r:
        assert r.status == 202 and len((await r.json())["runs"]) == 20
