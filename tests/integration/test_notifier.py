"""The notifier in-process against a real nats-server (bus + KV store) and fake provider APIs.

Covers: a run's statuses reach GitHub in order, pending then success (or failure), exactly once
each, with a chat message and the webhook registered (status.webhookRegistered/webhookURL); the
same when the notifier is stopped, or killed without draining, between the two transitions and
restarted; a crash after the provider took a status but before it was recorded repeats that same
status once (at-least-once, harmless) and records it once; a run first seen after its end gets
only its final status; a bad token becomes NotificationFailed
(401) for both transitions without stopping the consumer. "Done" is the durable consumer having
acked the whole stream, never a sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Sequence

import nats
import pytest
from msgspec.structs import replace

from adapters.http_client import AiohttpClient
from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.runtime.tasks import stop_task
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfigSpec, Step
from api.pipelinerun import PipelineRunSpec
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionSpec
from api.secret import Secret
from events import run as ev
from events.codec import AnyEvent
from events.notification import NotificationEvent, NotificationFailed, NotificationSent
from events.subjects import RUN_STREAM, run_subject
from ports.bus import Bus, Handler, Received, StopSignal
from ports.http import RetryPolicy
from ports.resources import ResourceStore
from services.notifier.chatting import ChatNotifier
from services.notifier.registering import Registrar
from services.notifier.reporting import StatusReporter
from services.notifier.service import DURABLE, Notifier, serve, utcnow
from tests.integration.conftest import bus_settings, eventually
from tests.support.fake_providers import TOKEN, FakeProviders
from tests.support.runs import ident

NS, CONFIG, SHA = "team-a", "app-ci", "0123456789abcdef0123456789abcdef01234567"
PUBLIC = "https://ci.example"


class Crash(Exception):
    """The process dies here (raised where a kill -9 would strike)."""


class CrashingBus:
    """The process's bus, dying at the first NotificationSent for `transition`: the provider has
    taken the status, the record is not written."""

    def __init__(self, bus: NatsBus, transition: str) -> None:
        self.bus, self.transition = bus, transition

    async def publish(self, event: AnyEvent) -> int:
        if isinstance(event, NotificationSent) and event.transition == self.transition:
            raise Crash(f"killed before recording {event.transition}")
        return await self.bus.publish(event)

    async def publish_many(self, events: Sequence[AnyEvent]) -> list[int]:
        return await self.bus.publish_many(events)

    async def consume(
        self, durable: str, subjects: Sequence[str], handler: Handler, stop: StopSignal, concurrency: int = 1
    ) -> None:
        await self.bus.consume(durable, subjects, handler, stop, concurrency)

    async def history(self, subject: str) -> list[Received]:
        return await self.bus.history(subject)

    async def close(self) -> None:
        await self.bus.close()


class NotifierProcess:
    """One notifier 'process': its own NATS connection, store, HTTP client and serve() task."""

    def __init__(
        self, server: NatsServer, fake: FakeProviders, crash_on: str = "", policy: RetryPolicy | None = None,
        wrap: Callable[[ResourceStore], ResourceStore] = lambda store: store,
    ) -> None:
        self.server, self.fake, self.crash_on, self.wrap = server, fake, crash_on, wrap
        self.policy = policy or RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)

    async def start(self) -> None:
        self.bus = await NatsBus.connect(replace(bus_settings(self.server), ack_wait=1.0))
        store = self.wrap(KvStore.from_connection(self.bus.connection))
        self.http = AiohttpClient(self.policy)
        overrides = {"github": self.fake.url + "/api/v3"}
        bus: Bus = CrashingBus(self.bus, self.crash_on) if self.crash_on else self.bus
        statuses = StatusReporter(bus, store, self.http, PUBLIC, overrides, utcnow)
        notifier = Notifier(bus, statuses, ChatNotifier(bus, store, self.http, PUBLIC, utcnow))
        registrar = Registrar(store, self.http, PUBLIC, overrides)
        self.stop_signal = asyncio.Event()
        self.task = asyncio.create_task(serve(notifier, registrar, self.stop_signal, 4, 3600.0))

    async def stop(self) -> None:
        self.stop_signal.set()
        await self.task
        await self.http.close()
        await self.bus.close()

    async def kill(self) -> None:
        """Like kill -9: the task dies and the socket closes, nothing drained or acked."""
        with contextlib.suppress(BaseException):
            await stop_task(self.task)  # one cancel() can be absorbed by a KV watch on 3.11
        await self.bus.connection.client.close()
        await self.http.close()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    providers = FakeProviders()
    await providers.start()
    yield providers
    await providers.stop()


@pytest.fixture
async def driver(nats_server: NatsServer) -> AsyncIterator[tuple[NatsBus, KvStore]]:
    """The test's own connection: publishes run events and applies resources."""
    bus = await NatsBus.connect(bus_settings(nats_server))
    await bus.ensure_streams()
    store = KvStore.from_connection(bus.connection)
    await store.ensure_buckets()
    yield bus, store
    await bus.close()


async def connect_repository(store: KvStore, token: str = TOKEN) -> None:
    def secret(name: str, data: dict[str, str]) -> Secret:
        return Secret(metadata=ObjectMeta(namespace=NS, name=name), string_data=data)

    await store.apply(secret("gh-auth", {"token": token}))
    await store.apply(secret("gh-hook", {"webhook-secret": "shh"}))
    spec = RepositoryConnectionSpec(
        repository="https://ghe.example/org/app",
        provider="github",
        auth_secret_ref="gh-auth",
        webhook_secret_ref="gh-hook",
        pipeline_config_ref=CONFIG,
    )
    await store.apply(RepositoryConnection(metadata=ObjectMeta(namespace=NS, name="app-repo"), spec=spec))


async def enable_chat(store: KvStore, fake: FakeProviders) -> None:
    data = {"slack-webhook-url": f"{fake.url}/slack/T000/B000/XXXX", "slack-filter": "all"}
    await store.apply(Secret(metadata=ObjectMeta(namespace=NS, name="c8s-notifications"), string_data=data))


def started() -> list[ev.RunEvents]:
    spec = PipelineRunSpec(pipeline_config_ref=CONFIG, commit=SHA[:12], branch="main")
    snapshot = PipelineConfigSpec(
        repository="https://ghe.example/org/app", steps=[Step(name="test", image="alpine", commands=["true"])]
    )
    return [
        ev.RunRequested(spec=spec, **ident(0)),
        ev.RunAccepted(config=CONFIG, snapshot=snapshot, **ident(1)),
    ]


def finished(phase: ev.FinalPhase = "Succeeded") -> ev.RunFinished:
    return ev.RunFinished(config=CONFIG, phase=phase, reason=phase, **ident(9))


async def drained(server: NatsServer) -> bool:
    """True once the notifier's durable consumer has acked every message it is given (the run
    events it handles; its filter leaves the others out)."""
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        info = await js.consumer_info(RUN_STREAM, DURABLE)
        return bool(info.delivered.stream_seq) and not info.num_ack_pending and not info.num_pending
    finally:
        await nc.close()


async def notices(bus: NatsBus) -> list[NotificationEvent]:
    history = await bus.history(run_subject(NS, "app-ci-1"))
    return [r.event for r in history if isinstance(r.event, NotificationEvent)]


async def test_pending_then_success_exactly_once_with_chat_and_hook(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore]
) -> None:
    """Pending on acceptance, success on finish, one chat message, the webhook registered once."""
    bus, store = driver
    await connect_repository(store)
    await enable_chat(store, fake)
    notifier = NotifierProcess(nats_server, fake)
    await notifier.start()
    await bus.publish_many(started())
    await eventually(lambda: _async(fake.states("github") == ["pending"]))
    await bus.publish(finished())
    await eventually(lambda: _async(len(fake.slack) == 1))
    await eventually(lambda: drained(nats_server))
    await notifier.stop()
    assert fake.states("github") == ["pending", "success"]
    assert {p.context for p in fake.statuses} == {"c8s/app-ci"}
    assert fake.statuses[0].target_url == f"{PUBLIC}/runs/{NS}/app-ci-1"
    assert [(n.type, n.channel, n.transition) for n in await notices(bus)] == [
        ("notification.sent", "commit-status", "pending"),
        ("notification.sent", "commit-status", "finished"),
        ("notification.sent", "chat", "finished"),
    ]
    conn = await store.get(RepositoryConnection, NS, "app-repo")
    assert conn.status is not None and conn.status.webhook_registered
    assert conn.status.webhook_url == f"{PUBLIC}/webhooks/github"
    assert fake.hooks[("github", "org/app")] == [f"{PUBLIC}/webhooks/github"]
    assert fake.violations == []


@pytest.mark.parametrize("how", ["stop", "kill"])
async def test_restart_between_transitions(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore], how: str
) -> None:
    """Stopped or killed after pending, restarted after the run finished: each status once, in order."""
    bus, store = driver
    await connect_repository(store)
    first = NotifierProcess(nats_server, fake)
    await first.start()
    await bus.publish_many(started())
    await eventually(lambda: _async(fake.states("github") == ["pending"]))
    await eventually(lambda: _has_notice(bus, "pending"))
    await (first.stop() if how == "stop" else first.kill())
    await bus.publish(finished("Failed"))
    second = NotifierProcess(nats_server, fake)
    await second.start()
    await eventually(lambda: _async(fake.states("github") == ["pending", "failure"]))
    await eventually(lambda: drained(nats_server))
    await second.stop()
    assert fake.states("github") == ["pending", "failure"]
    assert [n.transition for n in await notices(bus) if isinstance(n, NotificationSent)] == [
        "pending",
        "finished",
    ]


async def test_crash_after_the_provider_took_the_status_repeats_it_once(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore]
) -> None:
    """A process dying between the provider's 201 and the record posts the same status again after
    restart (at-least-once), records it once, and the provider's last word is the final status."""
    bus, store = driver
    await connect_repository(store)
    first = NotifierProcess(nats_server, fake, crash_on="finished")
    await first.start()
    await bus.publish_many(started())
    await eventually(lambda: _has_notice(bus, "pending"))
    await bus.publish(finished())
    with pytest.raises(ExceptionGroup) as died:
        await first.task
    assert died.group_contains(Crash)
    await first.kill()
    assert fake.states("github") == ["pending", "success"]
    second = NotifierProcess(nats_server, fake)
    await second.start()
    await eventually(lambda: drained(nats_server))
    await second.stop()
    assert fake.states("github") == ["pending", "success", "success"]
    assert [n.transition for n in await notices(bus)] == ["pending", "finished"]


async def test_pending_is_skipped_when_the_run_already_finished(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore]
) -> None:
    """A notifier that first sees a run after its end posts only the final status."""
    bus, store = driver
    await connect_repository(store)
    await bus.publish_many([*started(), finished()])
    notifier = NotifierProcess(nats_server, fake)
    await notifier.start()
    await eventually(lambda: drained(nats_server))
    await notifier.stop()
    assert fake.states("github") == ["success"]


async def test_bad_token_becomes_notification_failed(
    nats_server: NatsServer, fake: FakeProviders, driver: tuple[NatsBus, KvStore]
) -> None:
    """A 401 is recorded as NotificationFailed for each transition and the consumer carries on."""
    bus, store = driver
    await connect_repository(store, token="revoked")
    notifier = NotifierProcess(nats_server, fake)
    failed = await failures_of_one_run(bus, nats_server, notifier)
    assert [(n.transition, n.status, n.reason) for n in failed] == [
        ("pending", 401, "Unauthorized"),
        ("finished", 401, "Unauthorized"),
    ]
    assert fake.statuses == [] and not notifier.task.exception()
    conn = await store.get(RepositoryConnection, NS, "app-repo")
    assert conn.status is not None and conn.status.webhook_registered is False


async def failures_of_one_run(
    bus: NatsBus, nats_server: NatsServer, notifier: NotifierProcess
) -> list[NotificationFailed]:
    """Starts `notifier`, runs one run (started, pending seen, finished) past it until its consumer
    has acked everything, stops it and returns the run's NotificationFailed events."""
    await notifier.start()
    await bus.publish_many(started())
    await eventually(lambda: _has_notice(bus, "pending"))
    await bus.publish(finished())
    await eventually(lambda: drained(nats_server))
    await notifier.stop()
    return [n for n in await notices(bus) if isinstance(n, NotificationFailed)]


async def _has_notice(bus: NatsBus, transition: str) -> bool:
    return any(n.transition == transition for n in await notices(bus))


async def _async(value: bool) -> bool:
    return value
