"""What the dashboard, the runner and the catching-up folds may read, on a real nats-server with
c8s's authorization (adapters.jetstream.permissions).

Covers: the dashboard identity reads a run's history, receives its live log lines, lists, creates
and cancels PipelineRuns and reads PipelineConfigs in the local store, and is refused the secrets
bucket and any event publish; the runner (local mode's prefetch) watches PipelineRuns and reads
PipelineConfigs and RepositoryConnections, and is refused writing a PipelineRun; next_after
(STREAM.MSG.GET) works for the scheduler and the projector on a run's wildcard subject, skips an
event off its own subject, and is refused to a team reader.
"""

from __future__ import annotations

from datetime import UTC, datetime

from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.live import NatsLiveLog
from adapters.jetstream.live_reader import LiveLogLines
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from events.codec import encode
from events.run import LogShipped, StepFinished
from events.subjects import RUN_STREAM, run_subject, subject_of
from steps.plans import StepRef
from tests.security.conftest import SecuredNats
from tests.support.histories import config, connection, pipeline_run

AT = datetime(2026, 1, 1, tzinfo=UTC)
RUN = {"namespace": "team-a", "run": "app-1", "uid": "uid-1", "step": "build", "at": AT}


async def test_the_dashboard_reads_history_live_lines_and_writes_runs(secured: SecuredNats) -> None:
    """As `dashboard`: a run's history, its live lines, PipelineRun create/list/cancel all work."""
    runner = await secured.bus("runner")
    finished = StepFinished(exit_code=0, **RUN)
    await runner.publish(finished)
    dashboard = await secured.bus("dashboard")
    await dashboard.ensure_streams()
    assert [r.event for r in await dashboard.history(run_subject("team-a", "app-1"))] == [finished]
    store = KvStore.from_connection(dashboard.connection)
    await store.ensure_buckets()
    await store.create(pipeline_run("team-a", "app-1"))
    assert [r.metadata.name for r in await store.list(PipelineRun, "team-a")] == ["app-1"]
    cancelled = await store.request_cancel("team-a", "app-1")
    assert cancelled.spec.cancel_requested
    shipper = await secured.bus("log-shipper")
    ref = StepRef(namespace="team-a", run="app-1", uid="uid-1", step="build", job_name="app-1-build")
    async with LiveLogLines(dashboard.connection, "team-a", "app-1", None) as lines:
        await NatsLiveLog(shipper.connection).publish(ref, b"compiling\n")
        got = await lines.next(10.0)
    assert got is not None and got[0] == "build" and b"compiling" in got[1]


async def test_the_dashboard_is_refused_secrets_and_event_publishes(secured: SecuredNats) -> None:
    """As `dashboard`: reading the secrets bucket and publishing a run event are refused."""
    attacker = await secured.raw("dashboard")
    secrets = "$JS.API.DIRECT.GET.KV_c8s_secrets.$KV.c8s_secrets.team-a.token"
    await attacker.client.publish(secrets, b"", reply=attacker.client.new_inbox())
    assert await attacker.refused(secrets)
    event = StepFinished(exit_code=0, **RUN)
    await attacker.client.publish(subject_of(event), encode(event))
    assert await attacker.refused(subject_of(event))


async def test_next_after_on_a_runs_wildcard_subject_skips_misplaced_events(secured: SecuredNats) -> None:
    """Scheduler and projector read the next event of a run across its typed subjects; a body off
    its own subject is skipped; a team reader is refused the request."""
    shipper = await secured.bus("log-shipper")
    shipped = LogShipped(url="file:///x", **RUN)
    await shipper.connection.js.publish(subject_of(shipped), encode(StepFinished(exit_code=0, **RUN)))
    await shipper.publish(shipped)
    runner = await secured.bus("runner")
    finished = StepFinished(exit_code=1, **RUN)
    await runner.publish(finished)
    subject = run_subject("team-a", "app-1")
    for user in ("scheduler", "projector"):
        bus = await secured.bus(user)
        first = await bus.next_after(subject, 0)
        assert first is not None and first.event == shipped
        second = await bus.next_after(subject, first.seq)
        assert second is not None and second.event == finished
        assert await bus.next_after(subject, second.seq) is None
    reader = await secured.raw("reader-team-a")
    request = f"$JS.API.STREAM.MSG.GET.{RUN_STREAM}"
    await reader.client.publish(request, b'{"seq": 1}', reply=reader.client.new_inbox())
    assert await reader.refused(request)


async def test_the_runner_reads_runs_configs_and_connections_but_writes_none(secured: SecuredNats) -> None:
    """As `runner`: what a new run will check out is readable (services.runner.lookahead); a
    PipelineRun write is refused."""
    projector = KvStore.from_connection((await secured.bus("projector")).connection)
    await projector.ensure_buckets()
    await projector.apply(config("team-a", 1))
    await projector.apply(connection("team-a"))
    dashboard = KvStore.from_connection((await secured.bus("dashboard")).connection)
    await dashboard.create(pipeline_run("team-a", "app-1"))
    runner = KvStore.from_connection((await secured.bus("runner")).connection)
    assert (await runner.get(PipelineConfig, "team-a", config("team-a", 1).metadata.name)).spec.steps
    assert [c.metadata.name for c in await runner.list(RepositoryConnection, "team-a")] == [
        connection("team-a").metadata.name
    ]
    watch = runner.watch(PipelineRun)
    first = await anext(watch)
    assert first.type == "ADDED" and first.object.metadata.name == "app-1"
    await watch.aclose()
    attacker = await secured.raw("runner")
    write = "$KV.c8s_pipelineruns.team-a.app-2"
    await attacker.client.publish(write, b"{}")
    assert await attacker.refused(write)
