"""The notifier's provider fidelity (issue 13, items 9 and 10) against a real nats-server and the
fake provider APIs.

Covers: a pending status the provider answered 503 is never posted after the final status (the
final lands while the pending waits to be retried: the commit ends on the final state, with no
pending after it); owner/repo come from the identity the provider sent (`spec.trigger.repository`),
so a connection whose URL is a git:// clone URL still gets statuses, on the connection the run
recorded; a rejected run gets an error status with its reason; hook registration reads every page
of hooks (ours on page 2 is found, none created) and creates ours only after the last page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from msgspec.structs import replace

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from api.meta import ObjectMeta
from api.pipelinerun import PipelineRunSpec, Trigger
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from events import run as ev
from ports.http import RetryPolicy
from tests.integration.conftest import eventually
from tests.integration.test_notifier import (
    CONFIG,
    NS,
    PUBLIC,
    SHA,
    NotifierProcess,
    _async,
    connect_repository,
    drained,
    finished,
    started,
)
from tests.integration.test_notifier import driver as driver  # a fixture
from tests.support.fake_providers import FakeProviders, Scripted
from tests.support.runs import ident


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    providers = FakeProviders()
    await providers.start()
    yield providers
    await providers.stop()


def _statuses_seen(fake: FakeProviders, status: int) -> bool:
    return any("/statuses/" in path and code == status for _, path, code in fake.seen)


async def test_a_pending_answered_503_never_lands_after_the_final(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore]
) -> None:
    """The run finishes while its pending waits out a 503: the commit shows the final state, and no
    pending is posted after it (issue 13.9)."""
    bus, store = driver
    await connect_repository(store)
    retry_after = {"Retry-After": "1"}
    fake.script(Scripted(status=503, headers=retry_after, path="/statuses/"))
    policy = RetryPolicy(attempts=3, base_delay=0.01, max_delay=5.0)
    notifier = NotifierProcess(nats_server, fake, policy=policy)
    await notifier.start()
    await bus.publish_many(started())
    await eventually(lambda: _async(_statuses_seen(fake, 503)))
    await bus.publish(finished())
    await eventually(lambda: drained(nats_server))
    await notifier.stop()
    assert fake.states("github") == ["success"]


async def test_owner_and_repo_come_from_the_delivery(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore]
) -> None:
    """A connection named by the run, with a git:// URL that names no owner, still gets the run's
    statuses at the repository the provider named (issue 13.10)."""
    bus, store = driver
    await connect_repository(store)
    clone = RepositoryConnectionSpec(
        repository="git://ghe.example/app.git", provider="github", auth_secret_ref="gh-auth"
    )
    await store.apply(RepositoryConnection(metadata=ObjectMeta(namespace=NS, name="clone"), spec=clone))
    trigger = Trigger(event="push", connection="clone", provider="github", repository="org/app")
    requested, accepted = started()
    assert isinstance(requested, ev.RunRequested) and isinstance(accepted, ev.RunAccepted)
    notifier = NotifierProcess(nats_server, fake)
    await notifier.start()
    with_trigger = replace(requested, spec=replace(requested.spec, trigger=trigger))
    await bus.publish_many([with_trigger, replace(accepted, connection="clone")])
    await eventually(lambda: _async(fake.states("github") == ["pending"]))
    await bus.publish(finished())
    await eventually(lambda: drained(nats_server))
    await notifier.stop()
    assert fake.states("github") == ["pending", "success"]
    assert {p.repo for p in fake.statuses} == {"org/app"} and fake.violations == []


async def test_a_rejected_run_gets_an_error_status_with_its_reason(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore]
) -> None:
    """RunRejected posts `error` with the rejection's reason and message on the run's commit."""
    bus, store = driver
    await connect_repository(store)
    spec = PipelineRunSpec(pipeline_config_ref=CONFIG, commit=SHA[:12], branch="main")
    message = f"PipelineConfig {CONFIG!r} not found"
    rejected = ev.RunRejected(reason="ConfigNotFound", message=message, **ident(1))
    notifier = NotifierProcess(nats_server, fake)
    await notifier.start()
    await bus.publish_many([ev.RunRequested(spec=spec, **ident(0)), rejected])
    await eventually(lambda: drained(nats_server))
    await notifier.stop()
    [posted] = fake.statuses
    assert (posted.state, posted.context, posted.sha) == ("error", f"c8s/{CONFIG}", SHA[:12])
    assert posted.description is not None and "ConfigNotFound" in posted.description


@pytest.mark.parametrize("ours_at", [120, None])
async def test_hook_registration_reads_every_page(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore], ours_at: int | None
) -> None:
    """With 150 other hooks, ours on page 2 counts as registered; absent, it is created once."""
    _, store = driver
    ours = f"{PUBLIC}/webhooks/github"
    hooks = [f"https://other.example/{i}" for i in range(150)]
    if ours_at is not None:
        hooks.insert(ours_at, ours)
    fake.hooks[("github", "org/app")] = list(hooks)
    notifier = NotifierProcess(nats_server, fake)
    await notifier.start()
    await connect_repository(store)

    async def registered() -> bool:
        conn = await store.get(RepositoryConnection, NS, "app-repo")
        return conn.status is not None and bool(conn.status.webhook_registered)

    await eventually(registered)
    await notifier.stop()
    expected = hooks if ours_at is not None else [*hooks, ours]
    assert fake.hooks[("github", "org/app")] == expected
    assert any("page=2" in path for _, path, _ in fake.seen) and fake.violations == []
