"""The scheduler's acceptance (services/scheduler/accepting.py: read_inputs, then accept) against
the KV resource store on a real nats-server: the run's connection, its credentials and the fork
policy (issue 10.4, 13.8).

Covers: a run naming its connection gets that connection's auth secret (not the first one of the
config) and RunAccepted records it; a run naming none gets the config's connection first by name;
a fork's pull request is accepted with its secrets withheld unless its connection says
WithSecrets; a run naming a connection that does not exist is accepted with none (no guess).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRunSpec, Trigger
from api.repositoryconnection import ForkPolicy, RepositoryConnection, RepositoryConnectionSpec
from events.run import RunAccepted
from ports.resources import NotFound
from projections.run_context import RunContext
from services.scheduler.accepting import accept, read_inputs
from tests.integration.conftest import bus_settings

NS, REPO = "team-a", "https://github.com/org/app"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def store(nats_server: NatsServer) -> AsyncIterator[KvStore]:
    bus = await NatsBus.connect(bus_settings(nats_server))
    kv = KvStore.from_connection(bus.connection)
    await kv.ensure_buckets()
    steps = [Step(name="test", image="alpine", commands=["true"])]
    await kv.apply(
        PipelineConfig(
            metadata=ObjectMeta(name="app-ci", namespace=NS),
            spec=PipelineConfigSpec(repository=REPO, steps=steps),
        )
    )
    for name, forks in (("a-repo", "WithoutSecrets"), ("b-repo", "WithSecrets")):
        await kv.apply(connection(name, forks))  # type: ignore[arg-type]
    yield kv
    await bus.close()


def connection(name: str, forks: ForkPolicy) -> RepositoryConnection:
    spec = RepositoryConnectionSpec(
        repository=REPO, provider="github", pipeline_config_ref="app-ci",
        auth_secret_ref=f"{name}-creds", fork_pull_requests=forks,
    )  # fmt: skip
    return RepositoryConnection(metadata=ObjectMeta(name=name, namespace=NS), spec=spec)


async def accepted_with(store: KvStore, trigger: Trigger | None) -> RunAccepted:
    spec = PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1", trigger=trigger)
    ctx = RunContext(namespace=NS, run="r-1", uid="u-1", spec=spec)
    accepted = accept(ctx, await read_inputs(store, ctx), [], NOW)
    assert isinstance(accepted, RunAccepted), accepted
    return accepted


async def test_the_named_connection_gives_the_credentials(store: KvStore) -> None:
    """The connection the run names is recorded with its own auth secret."""
    accepted = await accepted_with(store, Trigger(event="push", connection="b-repo"))
    assert (accepted.connection, accepted.auth_secret_ref, accepted.secrets_withheld) == (
        "b-repo", "b-repo-creds", False,
    )  # fmt: skip


async def test_without_a_name_the_config_s_first_connection(store: KvStore) -> None:
    """A hand-made run belongs to the config's connection first by name; a missing name gets none."""
    assert (await accepted_with(store, None)).connection == "a-repo"
    missing = await accepted_with(store, Trigger(event="push", connection="gone"))
    assert (missing.connection, missing.auth_secret_ref) == (None, None)


@pytest.mark.parametrize(("name", "withheld"), [("a-repo", True), ("b-repo", False), ("gone", True)])
async def test_forks_are_accepted_without_secrets_unless_trusted(
    store: KvStore, name: str, withheld: bool
) -> None:
    """A fork's pull request withholds secrets unless its connection says WithSecrets."""
    fork = Trigger(event="pull_request", connection=name, number=7, fork=True)
    assert (await accepted_with(store, fork)).secrets_withheld is withheld


class Overlapping:
    """The store, recording whether the connection list was asked for before the config arrived."""

    def __init__(self, store: KvStore, config_found: bool = True) -> None:
        self.store, self.config_found = store, config_found
        self.listed_before_config = False
        self._got_config = False

    async def get(self, kind: type[PipelineConfig], namespace: str, name: str) -> PipelineConfig:
        await asyncio.sleep(0.05)  # a round trip: the list must not wait behind it
        self._got_config = True
        if not self.config_found:
            raise NotFound(f"{name} in {namespace}")
        return await self.store.get(kind, namespace, name)

    async def list(self, kind: type[RepositoryConnection], namespace: str) -> list[RepositoryConnection]:
        self.listed_before_config = not self._got_config
        return await self.store.list(kind, namespace)


async def test_the_config_and_the_connections_are_read_at_once(store: KvStore) -> None:
    """One round trip, not two, on the way to the first step; a missing config still means none."""
    spec = PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1", trigger=None)
    ctx = RunContext(namespace=NS, run="r-1", uid="u-1", spec=spec)
    overlapping = Overlapping(store)
    inputs = await read_inputs(overlapping, ctx)  # type: ignore[arg-type]
    assert overlapping.listed_before_config
    assert inputs.config is not None and inputs.connection is not None
    assert inputs.connection.metadata.name == "a-repo"
    missing = await read_inputs(Overlapping(store, config_found=False), ctx)  # type: ignore[arg-type]
    assert (missing.config, missing.connection) == (None, None)
