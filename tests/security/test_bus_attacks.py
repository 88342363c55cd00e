"""Attacks on the bus, against a real nats-server with c8s's authorization (local mode's identities).

Covers: a client without credentials (what a step has) or with a wrong password is refused at
connect; a forged `step.finished` is refused for every identity but the runner, and a pre-empting
publish with the real fact's Nats-Msg-Id is refused, so the runner's real result is stored and
read back; an event on a subject its producer may publish but that is not its own (a step result
sent by the log-shipper on `log.shipped`) reaches neither a consumer's handler nor a history;
no identity may delete or purge a stream, delete or fetch from another's durable consumer, or
publish into another identity's inbox; the read-only subscriber cannot read live logs nor publish;
a team reader reads its namespace's events and is refused another namespace's.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from msgspec.structs import replace

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.permissions import identities
from events.codec import encode
from events.run import LogShipped, StepFinished
from events.subjects import RUN_STREAM, live_log_subject, message_id, run_subject, subject_of
from ports.bus import Received
from ports.bus_errors import BusRefused
from tests.security.conftest import SecuredNats

AT = datetime(2026, 1, 1, tzinfo=UTC)
VICTIM = {"namespace": "victim", "run": "release-1", "uid": "uid-victim", "step": "security-scan", "at": AT}


def forged() -> StepFinished:
    return StepFinished(exit_code=0, **VICTIM)


async def last_seq(secured: SecuredNats) -> int:
    bus = await secured.bus("scheduler")
    return int((await bus.connection.js.stream_info(RUN_STREAM)).state.last_seq)


async def test_no_credentials_or_a_wrong_password_cannot_connect(secured: SecuredNats) -> None:
    """What a step holds (nothing) or a guessed password gets no connection at all."""
    assert await secured.refused_at_connect()
    assert await secured.refused_at_connect("runner", "guessed")
    with pytest.raises(BusRefused):
        await NatsBus.connect(replace(secured.settings("runner"), password="guessed"))


@pytest.mark.parametrize("user", sorted(set(identities("local", ("team-a",))) - {"runner"}))
async def test_forged_step_result_is_refused_for_every_other_identity(
    secured: SecuredNats, user: str
) -> None:
    """Only the runner may state a step's result: anyone else's publish is refused, nothing stored."""
    before = await last_seq(secured)
    attacker = await secured.raw(user)
    event = forged()
    await attacker.client.publish(
        subject_of(event), encode(event), headers={"Nats-Msg-Id": message_id(event)}
    )
    assert await attacker.refused(subject_of(event))
    assert await last_seq(secured) == before


async def test_a_preempted_message_id_cannot_suppress_the_real_result(secured: SecuredNats) -> None:
    """The attacker's publish with the real fact's Nats-Msg-Id is refused; the runner's exit 1 is stored."""
    attacker = await secured.raw("cli")
    event = forged()
    await attacker.client.publish(subject_of(event), b"{}", headers={"Nats-Msg-Id": message_id(event)})
    assert await attacker.refused(subject_of(event))
    runner = await secured.bus("runner")
    real = StepFinished(exit_code=1, **VICTIM)
    await runner.publish(real)
    history = await runner.history(run_subject("victim", "release-1"))
    assert [r.event for r in history] == [real]


async def test_an_event_off_its_subject_never_reaches_a_handler_or_a_history(secured: SecuredNats) -> None:
    """A step result published on `log.shipped` by the log-shipper is dropped before any fold."""
    shipper = await secured.bus("log-shipper")
    misplaced = StepFinished(exit_code=0, **VICTIM)
    shipped = LogShipped(url="file:///x", **VICTIM)
    await shipper.connection.js.publish(subject_of(shipped), encode(misplaced))
    await shipper.publish(shipped)
    scheduler = await secured.bus("scheduler")
    got: list[Received] = []
    stop = asyncio.Event()

    async def handler(received: Received) -> None:
        got.append(received)
        if isinstance(received.event, LogShipped):
            stop.set()

    await asyncio.wait_for(scheduler.consume("scheduler", ["c8s.run.>"], handler, stop), 30)
    assert [r.event for r in got] == [shipped]
    assert [r.event for r in await scheduler.history(run_subject("victim", "release-1"))] == [shipped]


@pytest.mark.parametrize("user", sorted(identities("local", ("team-a",))))
async def test_no_identity_may_delete_or_purge_a_stream(secured: SecuredNats, user: str) -> None:
    """STREAM.DELETE and STREAM.PURGE are refused to every identity; the history stays."""
    runner = await secured.bus("runner")
    await runner.publish(StepFinished(exit_code=1, **VICTIM))
    attacker = await secured.raw(user)
    for verb in ("DELETE", "PURGE"):
        subject = f"$JS.API.STREAM.{verb}.{RUN_STREAM}"
        await attacker.client.publish(subject, b"", reply=attacker.client.new_inbox())
        assert await attacker.refused(subject)
    assert len(await runner.history(run_subject("victim", "release-1"))) == 1


@pytest.mark.parametrize("user", ["subscriber", "cli", "log-shipper", "reader-team-a"])
async def test_nobody_takes_over_another_identitys_durable_consumer(secured: SecuredNats, user: str) -> None:
    """Fetching from, deleting or re-creating the scheduler's durable consumer is refused."""
    attacker = await secured.raw(user)
    for subject in (
        f"$JS.API.CONSUMER.MSG.NEXT.{RUN_STREAM}.scheduler",
        f"$JS.API.CONSUMER.DELETE.{RUN_STREAM}.scheduler",
        f"$JS.API.CONSUMER.CREATE.{RUN_STREAM}.scheduler.c8s.run.>",
        f"$JS.ACK.{RUN_STREAM}.scheduler.1.1.1.1.0",
    ):
        await attacker.client.publish(subject, b"{}", reply=attacker.client.new_inbox())
        assert await attacker.refused(subject)


async def test_nobody_publishes_into_another_identitys_inbox(secured: SecuredNats) -> None:
    """A forged reply to the runner (e.g. a fake publish ack) is refused."""
    attacker = await secured.raw("log-shipper")
    await attacker.client.publish("_INBOX.runner.abc.1", b"{}")
    assert await attacker.refused("_INBOX.runner.abc.1")


async def test_the_read_only_subscriber_cannot_read_live_logs_or_publish(secured: SecuredNats) -> None:
    """Live log lines and every event subject are closed to the outside subscriber."""
    subscriber = await secured.raw("subscriber")
    subject = live_log_subject("victim", "release-1", "security-scan")
    await subscriber.client.subscribe(subject)
    assert await subscriber.refused(subject)
    shipped = LogShipped(url="file:///etc/hostname", **VICTIM)
    await subscriber.client.publish(subject_of(shipped), encode(shipped))
    assert await subscriber.refused(subject_of(shipped))


async def test_a_team_reader_reads_its_namespace_only(secured: SecuredNats) -> None:
    """reader-team-a creates a consumer filtered on team-a; one on another namespace is refused."""
    runner = await secured.bus("runner")
    mine = StepFinished(exit_code=0, **(VICTIM | {"namespace": "team-a"}))
    await runner.publish(mine)
    reader = await secured.raw("reader-team-a")
    sub = await reader.client.jetstream().pull_subscribe(
        run_subject("team-a", "release-1"), durable="audit", stream=RUN_STREAM
    )
    msgs = await sub.fetch(1, timeout=5)
    assert [m.subject for m in msgs] == [subject_of(mine)]
    other = f"$JS.API.CONSUMER.CREATE.{RUN_STREAM}.spy.{run_subject('victim', 'release-1')}"
    await reader.client.publish(other, b"{}", reply=reader.client.new_inbox())
    assert await reader.refused(other)
