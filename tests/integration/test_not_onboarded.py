"""Services in a namespace whose Secrets c8s may not read yet (Kubernetes RBAC refuses them until the
namespace is onboarded: tests/support/not_onboarded.py), on a real nats-server and KV store.

Covers: log-shipper — while Secret reads fail with NotOnboarded the step's log is neither stored
nor announced (nothing unmasked leaves), the shipper keeps running and asks again a retry period
later (no crash, no hot loop), and once the namespace is onboarded the same log is shipped, masked,
once; webhook — a signed delivery is refused 401 with no run, the sender gets the usual answer and
the connection's webhook.rejected event says the namespace and the fix; notifier — each transition
becomes NotificationFailed (reason NotOnboarded, the fix in its message), nothing is posted, and the
consumer carries on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters import wiring
from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from events.webhook import WebhookRejected
from ports.objects import ObjectNotFound
from ports.resources import not_onboarded
from services.log_shipper.service import DURABLE, Shipper, serve
from tests.integration.conftest import eventually
from tests.integration.test_notifier import (
    NS,
    NotifierProcess,
    connect_repository,
    failures_of_one_run,
)
from tests.integration.test_notifier import driver as driver  # a fixture
from tests.integration.test_notifier import fake as fake  # a fixture
from tests.support.fake_providers import FakeProviders
from tests.support.not_onboarded import NotOnboardedYet
from tests.support.shipper_world import SECRET, World, secret_forms, shipper_world
from tests.support.webhook_harness import harness
from tests.support.webhooks import REPOSITORIES, request_for


@pytest.fixture
async def world(nats_server: NatsServer, tmp_path: Path) -> AsyncIterator[World]:
    async with shipper_world(nats_server, tmp_path) as made:
        yield made


async def test_log_shipper_waits_unshipped_until_onboarded(world: World) -> None:
    """No object and no LogShipped while Secrets are refused; retried; shipped masked once onboarded."""
    settings = world.settings
    bus = await wiring.connect_bus(settings, DURABLE)
    gate = NotOnboardedYet(await wiring.open_store(settings, bus))
    shipper = Shipper(bus=bus, store=gate, objects=wiring.open_objects(settings),  # type: ignore[arg-type]
                      logs=wiring.step_logs(settings, settings.poll_seconds), live=wiring.live_log(bus),
                      retry_seconds=settings.retry_seconds)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(shipper, stop, 2))
    world.append("build", secret_forms())
    world.finish("build")
    await world.start_steps("build")
    await eventually(lambda: _true(len(gate.refusals) >= 2))
    assert gate.refusals[1] - gate.refusals[0] >= settings.retry_seconds * 0.9  # paced, not a hot loop
    assert await world.shipped() == [] and not task.done()
    with pytest.raises(ObjectNotFound):
        world.stored("build")
    gate.onboarded = True
    shipped = await eventually(world.shipped)
    stored = world.stored("build")
    assert [s.step for s in shipped] == ["build"] and b"token=***" in stored and SECRET.encode() not in stored
    stop.set()
    await asyncio.wait_for(task, 10)
    await bus.close()


async def test_webhook_refuses_with_the_fix(nats_server: NatsServer) -> None:
    """A signed push for a connection whose Secret may not be read: 401, no run, the fix in the event."""
    async with harness(nats_server) as hook:
        await hook.connect_repo("github", REPOSITORIES["github"])
        hook.store = NotOnboardedYet(hook.store)  # type: ignore[assignment]
        await hook.restart()
        provider, headers, body = request_for("github_push", b"s3cret", "d-1")
        status, answer = await hook.post(provider, headers, body)
        assert (status, answer["reason"]) == (401, "signature missing or invalid")
        assert await hook.runs() == []
        [event] = await hook.events()
        assert isinstance(event, WebhookRejected) and (event.namespace, event.status) == ("team-a", 401)
        assert event.reason.startswith(f"{not_onboarded('team-a')} (")


async def test_notifier_reports_not_onboarded_and_carries_on(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore]
) -> None:
    """Each transition is NotificationFailed(NotOnboarded) with the fix; nothing posted; consumer alive."""
    bus, store = driver
    await connect_repository(store)
    notifier = NotifierProcess(nats_server, fake, wrap=NotOnboardedYet)  # type: ignore[arg-type]
    failed = await failures_of_one_run(bus, nats_server, notifier)
    assert [(n.transition, n.reason) for n in failed] == [("pending", "NotOnboarded"),
                                                          ("finished", "NotOnboarded")]
    assert all(n.message.startswith(not_onboarded(NS)) for n in failed)
    assert fake.statuses == [] and not notifier.task.exception()


async def _true(value: bool) -> bool:
    return value
