"""examples/subscriber.py as the documented read-only identity, against the authenticated bus.

Covers: with C8S_NATS_USER=subscriber and its password the example follows run events and prints a
finished run; the same run.finished body forged on another event's subject is not printed.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from events.codec import encode
from events.run import RunFinished
from events.subjects import run_event_subject
from tests.security.conftest import SecuredNats
from tests.support.runs import at

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "subscriber.py"


def finished(run: str) -> RunFinished:
    return RunFinished(
        namespace="team-a", run=run, uid=f"uid-{run}", at=at(9), config="c", phase="Failed", reason="Failed"
    )


async def test_the_subscriber_identity_skips_forged_runs(secured: SecuredNats) -> None:
    """Run as `subscriber`: the forged body on a log.shipped subject is skipped, the real one printed."""
    shipper, scheduler = await secured.bus("log-shipper"), await secured.bus("scheduler")
    fake = finished("forged-1")
    await shipper.connection.js.publish(run_event_subject("team-a", "forged-1", "log.shipped"), encode(fake))
    await scheduler.publish(finished("real-1"))
    env = {**os.environ, "C8S_NATS_USER": "subscriber", "C8S_NATS_PASSWORD": secured.passwords["subscriber"]}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(EXAMPLE), "--server", secured.server.url, "--durable", "audit",
        "--exit-after", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, err.decode()
    assert out.decode().splitlines() == ["team-a/real-1 Failed config=c reason=Failed"]
