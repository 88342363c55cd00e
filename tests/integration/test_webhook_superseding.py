"""Superseded runs through the real receiver on a real nats-server (the stretch of issue 13).

Covers: a second push to a branch asks the first push's unfinished run to cancel
(spec.cancelRequested) and leaves another branch's run alone; a config with
`cancelSuperseded: false` keeps both running; a retried delivery cancels nothing.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from msgspec.structs import replace

from adapters.jetstream.server import NatsServer
from api.pipelineconfig import PipelineConfig
from tests.support.webhook_harness import Harness, harness
from tests.support.webhooks import REPOSITORIES, payload, request_for

SECRET = b"s3cret"


@pytest.fixture
async def hook(nats_server: NatsServer) -> AsyncIterator[Harness]:
    async with harness(nats_server) as h:
        yield h


async def push(h: Harness, delivery: str, branch: str, commit: str) -> str:
    data = payload("github_push") | {"ref": f"refs/heads/{branch}", "after": commit}
    provider, headers, body = request_for("github_push", SECRET, delivery, json.dumps(data).encode())
    status, reply = await h.post(provider, headers, body)
    assert status == 202, reply
    [name] = reply["runs"]
    h.clock.advance(0.1)
    return str(name)


async def cancelled(h: Harness) -> dict[str, bool]:
    return {r.metadata.name: r.spec.cancel_requested for r in await h.runs("team-a")}


async def test_a_newer_push_supersedes_the_branch_s_unfinished_run(hook: Harness) -> None:
    """The first push's run is asked to cancel by the second; the other branch's run is not."""
    await hook.connect_repo("github", REPOSITORIES["github"])
    first = await push(hook, "d-1", "main", "a" * 40)
    other = await push(hook, "d-2", "dev", "b" * 40)
    second = await push(hook, "d-3", "main", "c" * 40)
    assert await cancelled(hook) == {first: True, other: False, second: False}
    status, _ = await hook.post(*request_for("github_push", SECRET, "d-3"))
    assert status == 200 and (await cancelled(hook))[second] is False


async def test_a_config_can_keep_superseded_runs(hook: Harness) -> None:
    """cancelSuperseded: false leaves every run of the branch running."""
    await hook.connect_repo("github", REPOSITORIES["github"])
    config = await hook.store.get(PipelineConfig, "team-a", "app-ci")
    await hook.store.apply(replace(config, spec=replace(config.spec, cancel_superseded=False)))
    first = await push(hook, "d-1", "main", "a" * 40)
    second = await push(hook, "d-2", "main", "c" * 40)
    assert await cancelled(hook) == {first: False, second: False}
