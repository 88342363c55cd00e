"""`c8s logs` trusts only its object store: a logURL in a status is data, never an address to fetch.

Covers (the CLI as the `cli` identity on the authenticated bus, C8S_LOG_STORE set as dev up's
export lines set it): a forged `file:///etc/hostname` is not read and the step is noted as not read;
neither are another run's log in the same store, a `..` climbing out of the run's prefix, or an
`http://` URL; the run's own log under the store is printed; without C8S_LOG_STORE the command
says which variable to set.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from api.meta import ObjectMeta
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus, StepStatus
from c8s.cli import main

RUN = PipelineRun(
    metadata=ObjectMeta(name="app-ci-1", namespace="victim"),
    spec=PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1"),
)


def seed(server: NatsServer, passwords: dict[str, str], steps: list[StepStatus]) -> None:
    """Store the run with `steps` in its status, as the projector writes it."""

    async def go() -> None:
        settings = BusSettings(servers=[server.url], user="projector", password=passwords["projector"])
        store = await KvStore.connect(settings)
        try:
            await store.create(RUN)
            status = PipelineRunStatus(phase="Succeeded", steps=steps, observed_sequence=3)
            await store.patch_status(PipelineRun, "victim", "app-ci-1", status)
        finally:
            await store.close()

    asyncio.run(go())


@pytest.fixture
def cli(
    secured_server: tuple[NatsServer, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The CLI's environment as dev up prints it; the object store under tmp_path."""
    server, passwords = secured_server
    monkeypatch.setenv("C8S_SERVER", server.url)
    monkeypatch.setenv("C8S_NATS_USER", "cli")
    monkeypatch.setenv("C8S_NATS_PASSWORD", passwords["cli"])
    monkeypatch.setenv("C8S_LOG_STORE", (tmp_path / "objects").as_uri())
    return tmp_path / "objects"


def step(name: str, url: str) -> StepStatus:
    return StepStatus(name=name, phase="Succeeded", exit_code=0, log_url=url)


def test_only_the_runs_own_log_in_the_store_is_read(
    secured_server: tuple[NatsServer, dict[str, str]], cli: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Host files, other runs' logs, `..` and other schemes are refused; the real log is printed."""
    own = cli / "victim" / "app-ci-1" / "uid-1" / "test.log"
    other = cli / "victim" / "app-ci-2" / "uid-2" / "test.log"
    for path, text in ((own, "own line\n"), (other, "other run's secret\n")):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    climbing = f"{cli.as_uri()}/victim/app-ci-1/../app-ci-2/uid-2/test.log"
    seed(
        *secured_server,
        [
            step("test", own.as_uri()),
            step("hostfile", "file:///etc/hostname"),
            step("other", other.as_uri()),
            step("climb", climbing),
            step("web", "http://169.254.169.254/latest/meta-data/"),
        ],
    )
    assert main(["logs", "app-ci-1", "-n", "victim"]) == 0
    out, err = capsys.readouterr()
    assert out == "[test] own line\n"
    assert socket.gethostname() not in out
    for name in ("hostfile", "other", "climb", "web"):
        assert f"c8s: step {name}: not read: its logURL is outside the object store" in err, err


def test_without_a_configured_store_nothing_is_read(
    secured_server: tuple[NatsServer, dict[str, str]],
    cli: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No C8S_LOG_STORE: one error line naming it, nothing fetched."""
    seed(*secured_server, [step("hostfile", "file:///etc/hostname")])
    monkeypatch.delenv("C8S_LOG_STORE")
    assert main(["logs", "app-ci-1", "-n", "victim"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "$C8S_LOG_STORE is not set" in err


