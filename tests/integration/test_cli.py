"""The networked CLI commands against a real nats-server and the NATS KV resource store, run
in-process through `c8s.cli.main` with `--server` pointing at the test's server.

Covers: apply (created / unchanged / configured, Secrets with stringData folded into data, `-n`
for objects without a namespace); apply with any invalid document applies nothing and prints
`c8s validate`'s lines; a change to a run's immutable spec applies nothing; get as a table (with
the steps table for one run), as JSON (one object, or a v1 List) and YAML, and kubectl's NotFound
line; cancel sets spec.cancelRequested; run creates one run per matrix combination minus excludes;
events lists a run's history in order; logs prints stored step logs (prefixed, or one step raw),
and with -f the live lines of a running step until the run ends (exit 1 when it failed);
a clear one-line error, exit 1 and no traceback when no server answers.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import nats
import pytest
import yaml

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.server import NatsServer, free_port
from adapters.jetstream.settings import BusSettings
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun, PipelineRunStatus, StepStatus
from api.secret import Secret
from api.validation import validate_manifest
from c8s.cli import main
from events import run as ev
from events.subjects import live_log_subject

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]

CONFIG = """\
apiVersion: c8s.dev/v1alpha1
kind: PipelineConfig
metadata: {name: app-ci}
spec:
  repository: https://example.com/org/app
  steps:
    - {name: test, image: alpine, commands: ["make test"]}
"""
MATRIX_CONFIG = """\
apiVersion: c8s.dev/v1alpha1
kind: PipelineConfig
metadata: {name: matrix-ci, namespace: team-a}
spec:
  repository: https://example.com/org/app
  matrix:
    dimensions: {py: ["3.11", "3.12"], os: [linux, mac]}
    exclude: [{py: "3.11", os: mac}]
  steps:
    - {name: test, image: alpine, commands: ["make test"]}
"""
SECRET = """\
apiVersion: v1
kind: Secret
metadata: {name: hook}
stringData: {webhook-secret: s3cret}
"""
RUN = """\
apiVersion: c8s.dev/v1alpha1
kind: PipelineRun
metadata: {name: app-ci-1}
spec: {pipelineConfigRef: app-ci, commit: abcdef1}
"""
BAD_RUN = """\
apiVersion: c8s.dev/v1alpha1
kind: PipelineRun
metadata: {name: app-ci-2}
spec: {pipelineConfigRef: app-ci, commit: XYZ}
"""


@pytest.fixture
def server(nats_server: NatsServer) -> Iterator[str]:
    yield nats_server.url


def run_in_store(url: str, action: Callable[[KvStore], Awaitable[T]]) -> T:
    async def go() -> T:
        store = await KvStore.connect(_settings(url))
        try:
            return await action(store)
        finally:
            await store.close()

    return asyncio.run(go())


def _settings(url: str) -> BusSettings:
    return BusSettings(servers=[url], name="tests", request_timeout=2.0, connect_timeout=1.0)


def c8s(capsys: pytest.CaptureFixture[str], server: str, *argv: str) -> tuple[int, str, str]:
    code = main([*argv, "--server", server])
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, *documents: str) -> str:
    path = tmp_path / name
    path.write_text("---\n".join(documents))
    return str(path)


def test_apply_creates_then_reports_unchanged_and_configured(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """apply prints kubectl's created/unchanged/configured per object; Secrets go first."""
    path = write(tmp_path, "all.yaml", CONFIG, RUN, SECRET)
    assert c8s(capsys, server, "apply", "-f", path) == (
        0,
        "secret/hook created\npipelineconfig/app-ci created\npipelinerun/app-ci-1 created\n",
        "",
    )
    code, out, _ = c8s(capsys, server, "apply", "-f", path)
    assert (code, out.split()) == (
        0,
        [
            "secret/hook",
            "unchanged",
            "pipelineconfig/app-ci",
            "unchanged",
            "pipelinerun/app-ci-1",
            "unchanged",
        ],
    )
    write(tmp_path, "all.yaml", CONFIG.replace("make test", "make check"), RUN, SECRET)
    assert "pipelineconfig/app-ci configured" in c8s(capsys, server, "apply", "-f", path)[1]
    secret = run_in_store(server, lambda s: s.get(Secret, "default", "hook"))
    assert (secret.data, secret.string_data) == ({"webhook-secret": "czNjcmV0"}, {})


def test_apply_namespace_option(tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    """-n puts objects that name no namespace into it."""
    path = write(tmp_path, "config.yaml", CONFIG)
    assert c8s(capsys, server, "apply", "-f", path, "-n", "team-b")[0] == 0
    assert (
        run_in_store(server, lambda s: s.get(PipelineConfig, "team-b", "app-ci")).metadata.namespace
        == "team-b"
    )


def test_apply_with_an_invalid_document_applies_nothing(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """One invalid document: its errors in validate's format, exit 1, and no object is written."""
    good = write(tmp_path, "good.yaml", CONFIG, SECRET)
    bad = write(tmp_path, "bad.yaml", RUN, BAD_RUN)
    code, out, err = c8s(capsys, server, "apply", "-f", good, "-f", bad)
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f'{bad}: PipelineRun/app-ci-2: spec.commit: invalid value "XYZ": expected 7 to 40 lower-case hex '
        "characters, e.g. abc123def456",
        "c8s: error: nothing applied: 1 error",
    ]
    assert run_in_store(server, lambda s: s.list(PipelineConfig)) == []
    assert run_in_store(server, lambda s: s.list(Secret)) == []
    assert run_in_store(server, lambda s: s.list(PipelineRun)) == []


def test_apply_refuses_a_changed_run_spec(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A run's spec is immutable: changing it refuses the whole apply, other objects included."""
    assert c8s(capsys, server, "apply", "-f", write(tmp_path, "run.yaml", RUN))[0] == 0
    changed = write(tmp_path, "changed.yaml", CONFIG, RUN.replace("abcdef1", "abcdef2"))
    code, _, err = c8s(capsys, server, "apply", "-f", changed)
    assert code == 1
    assert "pipelinerun/app-ci-1: spec is immutable" in err
    assert run_in_store(server, lambda s: s.list(PipelineConfig)) == []
    assert run_in_store(server, lambda s: s.get(PipelineRun, "default", "app-ci-1")).spec.commit == "abcdef1"


@pytest.fixture(autouse=True)
def log_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The object store the CLI reads logs from (it reads nowhere else)."""
    monkeypatch.setenv("C8S_LOG_STORE", (tmp_path / "objects").as_uri())
    return tmp_path / "objects"


def stored_log(tmp_path: Path, step: str) -> Path:
    """Where the log-shipper would store `step`'s log of default/app-ci-1."""
    log = tmp_path / "objects" / "default" / "app-ci-1" / "uid-1" / f"{step}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    return log


def _seed_run_with_status(server: str, tmp_path: Path) -> None:
    log = stored_log(tmp_path, "test")
    log.write_text("ok 1\nok 2\n")
    t0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    steps = [
        StepStatus(
            name="test",
            phase="Succeeded",
            exit_code=0,
            start_time=t0,
            completion_time=t0.replace(second=42),
            log_url=log.as_uri(),
        ),
        StepStatus(name="deploy", phase="Skipped", reason="BranchMismatch"),
    ]
    status = PipelineRunStatus(phase="Succeeded", steps=steps, observed_sequence=9)

    async def seed(store: KvStore) -> None:
        await store.create(yaml_run())
        await store.patch_status(PipelineRun, "default", "app-ci-1", status)

    run_in_store(server, seed)


def yaml_run() -> PipelineRun:
    obj = validate_manifest(yaml.safe_load(RUN)).obj
    assert isinstance(obj, PipelineRun)
    return obj


def test_get_table_json_yaml(tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    """get prints kubectl's table (and the steps of one run), JSON objects or a v1 List, YAML."""
    _seed_run_with_status(server, tmp_path)
    code, out, _ = c8s(capsys, server, "get", "pr")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["NAME", "STATUS", "CONFIG", "COMMIT", "EVENT", "AGE"]
    assert lines[1].split()[:4] == ["app-ci-1", "Succeeded", "app-ci", "abcdef1"]
    assert len(lines) == 2  # the steps table is for one named run only
    one = c8s(capsys, server, "get", "pipelinerun", "app-ci-1")[1].splitlines()
    assert one[3:] == [
        "STEP     PHASE       EXIT     DURATION",
        "test     Succeeded   0        42s",
        "deploy   Skipped     <none>   <none>",
    ]
    single = json.loads(c8s(capsys, server, "get", "pr", "app-ci-1", "-o", "json")[1])
    assert (single["apiVersion"], single["kind"], single["metadata"]["name"]) == (
        "c8s.dev/v1alpha1",
        "PipelineRun",
        "app-ci-1",
    )
    assert single["spec"]["pipelineConfigRef"] == "app-ci"
    assert single["status"]["steps"][0]["logURL"].startswith("file://")
    listed = json.loads(c8s(capsys, server, "get", "pipelineruns", "-o", "json")[1])
    assert (listed["apiVersion"], listed["kind"]) == ("v1", "List")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["app-ci-1"]
    as_yaml = yaml.safe_load(c8s(capsys, server, "get", "pr", "-o", "yaml")[1])
    assert as_yaml["items"][0]["status"]["phase"] == "Succeeded"
    assert c8s(capsys, server, "get", "pr", "-n", "elsewhere") == (
        0,
        "",
        "No resources found in elsewhere namespace.\n",
    )


def test_get_not_found(server: str, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing object is kubectl's one line and exit 1."""
    assert c8s(capsys, server, "get", "pr", "nope", "-n", "team-a") == (
        1,
        "",
        'c8s: error: pipelinerun "nope" not found in namespace "team-a"\n',
    )


def test_cancel_sets_cancel_requested(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """cancel sets spec.cancelRequested and says so; an unknown run is NotFound."""
    c8s(capsys, server, "apply", "-f", write(tmp_path, "run.yaml", RUN))
    assert c8s(capsys, server, "cancel", "app-ci-1") == (0, "pipelinerun/app-ci-1 cancel requested\n", "")
    assert run_in_store(server, lambda s: s.get(PipelineRun, "default", "app-ci-1")).spec.cancel_requested
    assert c8s(capsys, server, "cancel", "ghost")[0] == 1


def test_run_creates_one_run_per_matrix_combination(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """run prints one name per combination (4 minus 1 excluded), each run with its matrixIndex."""
    c8s(capsys, server, "apply", "-f", write(tmp_path, "m.yaml", MATRIX_CONFIG))
    code, out, _ = c8s(
        capsys, server, "run", "matrix-ci", "-n", "team-a", "--commit", "abcdef1", "--branch", "main"
    )
    names = out.split()
    assert code == 0 and len(names) == 3 and all(n.startswith("matrix-ci-") for n in names)
    runs = run_in_store(server, lambda s: s.list(PipelineRun, "team-a"))
    assert sorted(r.metadata.name for r in runs) == sorted(names)
    assert sorted(
        (r.spec.matrix_index or {}).get("os", "") + (r.spec.matrix_index or {})["py"] for r in runs
    ) == ["linux3.11", "linux3.12", "mac3.12"]
    assert {(r.spec.commit, r.spec.branch, r.spec.pipeline_config_ref) for r in runs} == {
        ("abcdef1", "main", "matrix-ci")
    }
    assert c8s(capsys, server, "run", "ghost", "--commit", "abcdef1")[2] == (
        'c8s: error: pipelineconfig "ghost" not found in namespace "default"\n'
    )


def test_events_lists_the_run_history(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """events prints each stored event of the run, in stream order, one line each."""
    t0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    ident = {"namespace": "default", "run": "app-ci-1", "uid": "u1"}

    async def publish() -> None:
        bus = await NatsBus.connect(_settings(server))
        await bus.ensure_streams()
        await bus.publish(ev.RunRequested(spec=yaml_run().spec, at=t0, **ident))
        await bus.publish(ev.StepFinished(step="test", exit_code=2, reason="Error", at=t0, **ident))
        await bus.publish(ev.StepFinished(step="x", exit_code=0, at=t0, **{**ident, "run": "other"}))
        await bus.close()

    asyncio.run(publish())
    code, out, _ = c8s(capsys, server, "events", "app-ci-1")
    assert code == 0
    assert out.splitlines() == [
        "1 2026-01-01T12:00:00.000Z run.requested commit=abcdef1",
        "2 2026-01-01T12:00:00.000Z step.finished step=test exitCode=2 reason=Error",
    ]
    assert (
        c8s(capsys, server, "events", "ghost")[2]
        == 'c8s: error: pipelinerun "ghost" not found in namespace "default"\n'
    )


def test_logs_prints_stored_logs(tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]) -> None:
    """logs prints every step's stored log prefixed by step; one step's log raw; skipped steps noted."""
    _seed_run_with_status(server, tmp_path)
    code, out, err = c8s(capsys, server, "logs", "app-ci-1")
    assert (code, out) == (0, "[test] ok 1\n[test] ok 2\n")
    assert "deploy: skipped" in err
    assert c8s(capsys, server, "logs", "app-ci-1", "test")[1] == "ok 1\nok 2\n"
    assert c8s(capsys, server, "logs", "app-ci-1", "build")[2] == (
        'c8s: error: pipelinerun "app-ci-1" has no step "build" (steps: test, deploy)\n'
    )


def test_logs_follow_of_a_finished_run_exits_with_its_result(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """logs -f of a run that already ended prints its stored logs and exits 0 for Succeeded."""
    _seed_run_with_status(server, tmp_path)
    assert c8s(capsys, server, "logs", "-f", "app-ci-1")[:2] == (0, "[test] ok 1\n[test] ok 2\n")


def test_no_server_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    """With nothing listening, every networked command fails with one line naming the URL."""
    url = f"nats://127.0.0.1:{free_port()}"
    for argv in (
        ["get", "pr"],
        ["cancel", "x"],
        ["events", "x"],
        ["logs", "x"],
        ["run", "c", "--commit", "abcdef1"],
    ):
        code, out, err = c8s(capsys, url, *argv)
        assert (code, out) == (1, "")
        assert (
            err
            == f"c8s: error: no c8s server answers at {url}: start one with `c8s dev up` (or pass --server)\n"
        )


def test_logs_follow_prints_live_lines_until_the_run_ends(
    tmp_path: Path, server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """logs -f prints live lines of a running step and exits 1 when the run ends Failed, without
    printing the step's stored log again."""
    running = PipelineRunStatus(
        phase="Running", steps=[StepStatus(name="test", phase="Running")], observed_sequence=1
    )

    async def seed(store: KvStore) -> None:
        await store.create(yaml_run())
        await store.patch_status(PipelineRun, "default", "app-ci-1", running)

    run_in_store(server, seed)
    result: list[int] = []
    follower = threading.Thread(
        target=lambda: result.append(main(["logs", "-f", "app-ci-1", "--server", server]))
    )
    follower.start()
    seen = _publish_until_shown(server, capsys, follower)
    log = stored_log(tmp_path, "test")
    log.write_text("stored line\n")
    step = StepStatus(name="test", phase="Failed", exit_code=1, log_url=log.as_uri())
    failed = PipelineRunStatus(phase="Failed", steps=[step], observed_sequence=2)
    run_in_store(server, lambda s: s.patch_status(PipelineRun, "default", "app-ci-1", failed))
    follower.join(30)
    out = seen + capsys.readouterr().out
    assert result == [1]
    assert re.search(r"^\[test\] live \d+$", out, re.MULTILINE)
    assert "stored line" not in out


def _publish_until_shown(server: str, capsys: pytest.CaptureFixture[str], follower: threading.Thread) -> str:
    """Publish live lines until the follower prints one (it subscribes at a time we cannot see)."""

    async def go() -> str:
        client = await nats.connect(server)
        shown, deadline = "", time.monotonic() + 20
        try:
            for n in range(100_000):
                await client.publish(live_log_subject("default", "app-ci-1", "test"), f"live {n}".encode())
                await client.flush()
                shown += capsys.readouterr().out
                if "[test] live" in shown or time.monotonic() > deadline or not follower.is_alive():
                    return shown
                await asyncio.sleep(0.05)
        finally:
            await client.close()
        return shown

    shown = asyncio.run(go())
    assert "[test] live" in shown, shown
    return shown
