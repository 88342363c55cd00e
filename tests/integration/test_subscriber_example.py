"""examples/subscriber.py, run as a separate process against a real nats-server.

Covers: it prints one line per finished run (namespace/run, phase, config, reason) and nothing for
other events; its durable consumer resumes after a restart without printing a run twice.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.server import NatsServer
from events import run as ev
from tests.integration.conftest import bus_settings
from tests.support.runs import accepted, at, requested

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[NatsBus]:
    connected = await NatsBus.connect(bus_settings(nats_server))
    await connected.ensure_streams()
    yield connected
    await connected.close()


def finished(run: str, phase: ev.FinalPhase) -> ev.RunFinished:
    return ev.RunFinished(
        namespace="team-a", run=run, uid=f"uid-{run}", at=at(9), config="app-ci", phase=phase, reason=phase
    )


async def subscriber(server: NatsServer, exit_after: int) -> list[str]:
    """Run the example until it printed `exit_after` finished runs; its output lines."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--server", server.url, "--durable", "audit",
        "--exit-after", str(exit_after),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0, err.decode()
    return out.decode().splitlines()


async def test_prints_finished_runs_only(nats_server: NatsServer, bus: NatsBus) -> None:
    """Requested/accepted events print nothing; each run.finished prints one line."""
    await bus.publish_many([requested(), accepted("test"), finished("app-ci-1", "Failed")])
    lines = await subscriber(nats_server, exit_after=1)
    assert lines == ["team-a/app-ci-1 Failed config=app-ci reason=Failed"]


async def test_durable_consumer_resumes_without_repeats(nats_server: NatsServer, bus: NatsBus) -> None:
    """A second start prints only the runs finished since the first one acked its events."""
    await bus.publish(finished("r1", "Succeeded"))
    assert await subscriber(nats_server, exit_after=1) == [
        "team-a/r1 Succeeded config=app-ci reason=Succeeded"
    ]
    await bus.publish(finished("r2", "Cancelled"))
    assert await subscriber(nats_server, exit_after=1) == [
        "team-a/r2 Cancelled config=app-ci reason=Cancelled"
    ]
