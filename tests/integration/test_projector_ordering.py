"""The projector folds every event exactly once and in sequence order, whatever the delivery.

On a real nats-server and the NATS KV store, with two projectors (each its own connection and
store client) working at once:
- handler level, property-based: each run's events and a connection's webhook decisions are
  stored, then delivered in any order, some twice, some hitting a store outage and coming back
  after later ones (the retry path), split between the two projectors, each handling one or
  three at once: every PipelineRun status and the RepositoryConnection status end equal to the
  fold of the stored history;
- a run's deliveries queued behind one another on one projector (a burst) are folded by the
  first in one status write, the others skipped without a store read, and the fold is still the
  history's;
- a run's events handed over one after another cost one store read in all (its first event; the
  projector folds each next event from the status it wrote), one write per status change;
- a replica folding from a status another replica has since overtaken: its write is dropped, it
  reads the run again for its next event, and the status stays the history's fold; a run deleted
  after the projector last wrote it is no crash and gets nothing written;
- process level: two complete projectors (serve) on the same durable consumers, over a store that
  fails a share of writes: run statuses, PipelineConfig stats (a serial consumer) and the
  connection status all converge to the folds of the stream.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from msgspec.structs import replace

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from api.pipelineconfig import PipelineConfig, PipelineConfigStatus
from api.pipelinerun import PipelineRun, PipelineRunStatus
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionStatus
from events.codec import AnyEvent
from events.run import RunAccepted, RunEvent, RunFinished
from events.subjects import connection_subject, namespace_runs_subject, subject_of
from events.webhook import WebhookEvent
from ports.bus import Received, run_history
from ports.resources import StoreUnavailable
from projections import config_stats, connection_status, run_status
from services.projector.service import Projector, serve
from tests.integration.conftest import bus_settings, eventually
from tests.support import histories as h
from tests.support.flaky_store import FlakyStore

_namespaces = itertools.count()


@dataclass
class Replica:
    bus: NatsBus
    store: FlakyStore
    projector: Projector = field(init=False)

    def __post_init__(self) -> None:
        self.projector = Projector(self.bus, self.store)


@pytest.fixture
async def replicas(nats_server: NatsServer) -> AsyncIterator[list[Replica]]:
    """Two projectors, each on its own connection, sharing one server and one KV store."""
    out: list[Replica] = []
    for _ in range(2):
        bus = await NatsBus.connect(bus_settings(nats_server))
        await bus.ensure_streams()
        kv = KvStore.from_connection(bus.connection)
        await kv.ensure_buckets()
        out.append(Replica(bus, FlakyStore(kv)))
    yield out
    for r in out:
        await r.bus.close()


@dataclass(frozen=True)
class Scenario:
    exit_codes: list[list[int]]  # one list per run
    hook_offsets: list[int]
    old_run_first: bool  # an earlier run of the same name left events on run 0's subject
    rnd: random.Random
    workers: int = 1  # deliveries each projector handles at once (serve's consume concurrency)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    codes = st.lists(st.sampled_from([0, 0, 1]), min_size=1, max_size=3)
    return Scenario(
        exit_codes=draw(st.lists(codes, min_size=1, max_size=3)),
        hook_offsets=draw(st.lists(st.integers(-40, 40), max_size=4)),
        old_run_first=draw(st.booleans()),
        rnd=draw(st.randoms(use_true_random=False)),
        workers=draw(st.sampled_from([1, 3])),
    )


async def store_history(replica: Replica, ns: str, s: Scenario) -> tuple[list[Received], dict[str, str]]:
    """Create the objects, publish every source's events interleaved at random; (stored, run uids)."""
    store = replica.store
    await store.create(h.config(ns, 3))
    await store.create(h.connection(ns))
    uids: dict[str, str] = {}
    sources: list[list[AnyEvent]] = []
    for i, codes in enumerate(s.exit_codes):
        name = f"run-{i}"
        uids[name] = (await store.create(h.pipeline_run(ns, name))).metadata.uid
        sources.append(list(h.script(ns, name, uids[name], codes)))
    sources.append(list(h.deliveries(ns, s.hook_offsets)))
    if s.old_run_first:
        sources[0][:0] = h.script(ns, "run-0", "uid-of-an-earlier-run", [0])[:4]
    stored: list[Received] = []
    while any(sources):
        source = s.rnd.choice([src for src in sources if src])
        event = source.pop(0)
        seq = await replica.bus.publish(event)
        stored.append(Received(event=event, seq=seq, subject=subject_of(event)))
    return stored, uids


async def deliver(
    replicas: list[Replica], stored: list[Received], rnd: random.Random, workers: int = 1
) -> None:
    """Any order, some twice, a quarter failing once (redelivered after everything else queued);
    each projector handles `workers` deliveries at once."""
    deliveries = [r for r in stored for _ in range(1 + (rnd.random() < 0.3))]
    rnd.shuffle(deliveries)
    queues: list[list[tuple[Received, bool]]] = [[], []]
    for r in deliveries:
        queues[rnd.randrange(2)].append((r, rnd.random() < 0.25))

    async def work(replica: Replica, queue: list[tuple[Received, bool]]) -> None:
        while queue:
            received, fails = queue.pop(0)
            replica.store.failing = fails
            try:
                if isinstance(received.event, RunEvent):
                    await replica.projector.on_run_event(received)
                else:
                    await replica.projector.on_webhook_event(received)
            except StoreUnavailable:
                queue.append((replace(received, delivered=received.delivered + 1), False))
            finally:
                replica.store.failing = False

    await asyncio.gather(
        *(work(rep, q) for rep, q in zip(replicas, queues, strict=True) for _ in range(workers))
    )


def same(written: PipelineRunStatus | RepositoryConnectionStatus | None, expected: object) -> bool:
    """Equal to the fold except for how far the position got (a fold that changed nothing is not written)."""
    assert isinstance(expected, PipelineRunStatus | RepositoryConnectionStatus)
    if written is None:
        return replace(expected, observed_sequence=0) == type(expected)()
    return replace(written, observed_sequence=0) == replace(expected, observed_sequence=0)


async def expected_runs(bus: NatsBus, ns: str, uids: dict[str, str]) -> dict[str, PipelineRunStatus]:
    out = {}
    for name, uid in uids.items():
        history = await run_history(bus, ns, name, uid)
        out[name] = run_status.fold((r.seq, r.event) for r in history if isinstance(r.event, RunEvent))
    return out


async def expected_connection(bus: NatsBus, ns: str) -> RepositoryConnectionStatus:
    status = RepositoryConnectionStatus()
    for r in await bus.history(connection_subject(ns, h.CONNECTION)):
        assert isinstance(r.event, WebhookEvent)
        status = connection_status.evolve(status, r.seq, r.event)
    return status


async def expected_stats(bus: NatsBus, ns: str) -> PipelineConfigStatus:
    stats = PipelineConfigStatus()
    for r in await bus.history(namespace_runs_subject(ns)):
        if isinstance(r.event, RunAccepted | RunFinished):
            stats = config_stats.evolve(stats, r.seq, r.event, h.CONFIG)
    return stats


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
async def test_any_delivery_order_folds_the_stored_history(
    replicas: list[Replica], scenario: Scenario
) -> None:
    """Reordered, repeated and retried deliveries to two projectors end at the folds of the history."""
    ns = f"order-{next(_namespaces)}"
    stored, uids = await store_history(replicas[0], ns, scenario)
    await deliver(replicas, stored, scenario.rnd, scenario.workers)
    store = replicas[1].store
    for name, expected in (await expected_runs(replicas[0].bus, ns, uids)).items():
        written = (await store.get(PipelineRun, ns, name)).status
        assert same(written, expected), (name, written, expected)
    written_conn = (await store.get(RepositoryConnection, ns, h.CONNECTION)).status
    assert same(written_conn, await expected_connection(replicas[0].bus, ns))


async def test_two_serving_projectors_over_a_flaky_store_converge(replicas: list[Replica]) -> None:
    """Two whole projectors on shared durables, a fifth of writes failing, end at the folds of the stream."""
    ns, rnd = "serving", random.Random(14)
    for i, replica in enumerate(replicas):
        replica.store.rate, replica.store.random = 0.2, random.Random(i)
    scenario = Scenario([[0, 0], [0, 1, 0], [1], [0, 0, 0], [0]], [5, -3, 9, 2], True, rnd)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(serve(r.bus, r.projector, stop, retry_delay=0.05)) for r in replicas]
    try:
        _, uids = await store_history(replicas[0], ns, scenario)
        bus, store = replicas[0].bus, replicas[0].store.store
        runs, conn = await expected_runs(bus, ns, uids), await expected_connection(bus, ns)
        stats = await expected_stats(bus, ns)

        async def converged() -> bool:
            written = {name: (await store.get(PipelineRun, ns, name)).status for name in runs}
            return (
                all(same(written[name], runs[name]) for name in runs)
                and same((await store.get(RepositoryConnection, ns, h.CONNECTION)).status, conn)
                and (await store.get(PipelineConfig, ns, h.CONFIG)).status == stats
            )

        await eventually(converged, deadline=30.0)
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
    # Five runs finished (three succeeded); the earlier run of run-0's name was accepted, never finished.
    assert (stats.total_runs, stats.finished_runs, stats.succeeded_runs) == (6, 5, 3)
    assert sum(r.store.failures for r in replicas) > 0


async def test_deliveries_queued_behind_one_another_are_written_once(replicas: list[Replica]) -> None:
    """A burst: every event of a run handed to one projector at once, in order. The first handler
    sees the others queued on the run and folds ahead to the run's end: one status write in all
    (one per event without it), and the status is the fold of the stored history; the others find
    their event covered by what this projector wrote, without reading the store."""
    ns, replica = "burst", replicas[0]
    stored, uids = await store_history(replica, ns, Scenario([[0, 1, 0]], [], False, random.Random(1)))
    run_events = [r for r in stored if isinstance(r.event, RunEvent)]
    await asyncio.gather(*(replica.projector.on_run_event(r) for r in run_events))
    reads, writes = replica.store.reads, replica.store.writes
    [(name, expected)] = (await expected_runs(replica.bus, ns, uids)).items()
    written = (await replica.store.get(PipelineRun, ns, name)).status
    assert written is not None and written.observed_sequence == run_events[-1].seq
    assert same(written, expected)
    assert (len(run_events), writes, reads) == (15, 1, 1)


async def one_run(replica: Replica, ns: str) -> tuple[list[Received], str, str]:
    """A two-step run's stored events (run events only), its name and uid."""
    stored, uids = await store_history(replica, ns, Scenario([[0, 0]], [], False, random.Random(2)))
    [(name, uid)] = uids.items()
    return [r for r in stored if isinstance(r.event, RunEvent)], name, uid


async def test_events_one_after_another_cost_one_store_read(replicas: list[Replica]) -> None:
    """Each event handled alone, in order: the run is read once (its first event), then every next
    event is folded from the status this projector wrote; one write per status change."""
    ns, replica = "sequence", replicas[0]
    events, name, uid = await one_run(replica, ns)
    for r in events:
        await replica.projector.on_run_event(r)
    written = (await replica.store.get(PipelineRun, ns, name)).status
    assert same(written, (await expected_runs(replica.bus, ns, {name: uid}))[name])
    reads = replica.store.reads - 1  # the get above
    assert (reads, replica.store.writes) == (1, h.status_changes(events))


async def test_a_status_overtaken_by_another_replica_is_dropped_and_read_again(
    replicas: list[Replica],
) -> None:
    """Replica A folds from what it wrote; B writes further; A's next write (a redelivery) is behind
    the stored status and dropped, A reads the run again for its next event, and the status ends
    at the fold of the history."""
    ns, (a, b) = "overtaken", replicas
    events, name, uid = await one_run(a, ns)
    for r in events[:4]:
        await a.projector.on_run_event(r)
    for r in events[4:8]:
        await b.projector.on_run_event(r)
    reads = a.store.reads
    await a.projector.on_run_event(events[5])  # redelivered to A: folded from A's status at events[3]
    assert a.store.reads == reads  # folded from what A knew: no read
    stored = (await b.store.get(PipelineRun, ns, name)).status
    assert stored is not None and stored.observed_sequence == events[7].seq  # A's write was dropped
    for r in events[8:]:
        await a.projector.on_run_event(r)
    assert a.store.reads == reads + 1  # forgotten after the dropped write: one read, then folds on
    written = (await b.store.get(PipelineRun, ns, name)).status
    assert written is not None and written.observed_sequence == events[-1].seq
    assert same(written, (await expected_runs(a.bus, ns, {name: uid}))[name])


async def test_a_run_deleted_after_its_status_was_written_gets_nothing(replicas: list[Replica]) -> None:
    """The projector knows the run's status; the run is deleted; its next event is no crash and
    writes nothing (the store says NotFound), and the one after reads the store again."""
    ns, replica = "deleted", replicas[0]
    events, name, _ = await one_run(replica, ns)
    for r in events[:3]:
        await replica.projector.on_run_event(r)
    await replica.store.delete(PipelineRun, ns, name)
    writes, reads = replica.store.writes, replica.store.reads
    await replica.projector.on_run_event(events[3])
    await replica.projector.on_run_event(events[4])
    assert (replica.store.writes, replica.store.reads) == (writes + 1, reads + 1)
    assert name not in [r.metadata.name for r in await replica.store.list(PipelineRun, ns)]
