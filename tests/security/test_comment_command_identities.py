"""Comment commands under c8s's bus authorization (a real nats-server, local mode's identities).

Covers: nobody but the notifier can publish a comment-command decision, so no other process (the
webhook included, which receives the comments) can approve a `/retest` by itself, and nothing
forged is stored; nobody but the webhook publishes a comment command; the two consumers of the
flow work under their owners' identities (the notifier's `notifier-commands` receives the
webhook's command, the webhook's `webhook-commands` receives the notifier's decision).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from msgspec.structs import asdict

from adapters.jetstream.permissions import identities
from events.codec import encode
from events.command import CommentCommand, CommentCommandDecided
from events.subjects import WEBHOOK_STREAM, command_filter, message_id, subject_of
from ports.bus import Received
from tests.integration.conftest import eventually
from tests.security.conftest import SecuredNats

AT = datetime(2026, 1, 1, tzinfo=UTC)
COMMAND = CommentCommand(
    at=AT, provider="github", namespace="victim", connection="app", comment_id="1", command="retest", number=7
)
APPROVAL = CommentCommandDecided(**asdict(COMMAND), verdict="accepted")
USERS = sorted(identities("local", ("team-a",)))


async def stored(secured: SecuredNats) -> int:
    bus = await secured.bus("scheduler")
    return int((await bus.connection.js.stream_info(WEBHOOK_STREAM)).state.messages)


FORGERIES = [
    (e, u) for e, producer in ((APPROVAL, "notifier"), (COMMAND, "webhook")) for u in USERS if u != producer
]


@pytest.mark.parametrize(("event", "user"), FORGERIES, ids=[f"{e.type}-by-{u}" for e, u in FORGERIES])
async def test_only_the_producer_publishes_comment_command_facts(
    secured: SecuredNats, event: CommentCommand | CommentCommandDecided, user: str
) -> None:
    """A decision (or a command) from anyone but its producer is refused and nothing is stored."""
    await (await secured.bus("scheduler")).ensure_streams()
    before = await stored(secured)
    attacker = await secured.raw(user)
    await attacker.client.publish(
        subject_of(event), encode(event), headers={"Nats-Msg-Id": message_id(event)}
    )
    assert await attacker.refused(subject_of(event))
    assert await stored(secured) == before


async def test_the_flow_runs_under_its_owners_identities(secured: SecuredNats) -> None:
    """The webhook's command reaches the notifier's consumer, the decision the webhook's consumer."""
    webhook, notifier = await secured.bus("webhook"), await secured.bus("notifier")
    await (await secured.bus("scheduler")).ensure_streams()
    got: dict[str, Received] = {}
    stop = asyncio.Event()

    def keep(name: str):  # type: ignore[no-untyped-def]
        async def handler(received: Received) -> None:
            got[name] = received

        return handler

    consumers = [
        asyncio.create_task(
            notifier.consume("notifier-commands", [command_filter("comment.command")], keep("n"), stop)
        ),
        asyncio.create_task(
            webhook.consume("webhook-commands", [command_filter("comment.decided")], keep("w"), stop)
        ),
    ]
    await webhook.publish(COMMAND)
    await notifier.publish(APPROVAL)
    await eventually(lambda: _async(len(got) == 2))
    stop.set()
    await asyncio.gather(*consumers)
    assert got["n"].event == COMMAND and got["w"].event == APPROVAL


async def _async(value: bool) -> bool:
    return value
