"""What the CLI prints, without a server (c8s/render/ages.py, tables.py, columns.py, event_lines.py,
manual_runs.py, run_progress.py, github_push.py, supervisor.backoff).

Covers: kubectl's HumanDuration at every boundary; tabwriter layout (padding 3, minimum width 6,
no trailing spaces); the columns of runs, configs and connections (a run without status is
Pending, success rate as a percentage, the connection's last event); the steps table; event lines
(identity and bulky fields left out, values with spaces quoted); manual runs (one per matrix
combination minus excludes, names grouped, matrixIndex set); the demo's signed GitHub push
verifies with the webhook's own verifier; restart backoff doubles up to its cap.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.meta import ObjectMeta
from api.pipelineconfig import Matrix, PipelineConfig, PipelineConfigSpec, PipelineConfigStatus, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus, StepStatus, Trigger
from api.repositoryconnection import (
    LastEvent,
    RepositoryConnection,
    RepositoryConnectionSpec,
    RepositoryConnectionStatus,
)
from c8s.dev.github_push import ZERO_SHA, push_headers, push_payload
from c8s.dev.run_progress import step_line, summary
from c8s.dev.supervisor import MAX_BACKOFF, backoff
from c8s.manual_runs import manual_runs
from c8s.render.ages import human_duration
from c8s.render.columns import header, row, step_rows
from c8s.render.event_lines import event_line
from c8s.render.tables import format_table
from events import run as ev
from ports.bus import Received
from services.webhook.providers import github
from services.webhook.providers.signatures import verify_hmac

NOW = datetime(2026, 1, 2, 12, 0, 0, tzinfo=UTC)
SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (2 * 3600 + 5 * 60 + 3 * 3600, "5h5m"),
        (8 * 3600, "8h"),
        (47 * 3600, "47h"),
        (48 * 3600, "2d"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (2 * 365 * 86400 + 10 * 86400, "2y10d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_like_kubectl(seconds: int, shown: str) -> None:
    """Durations are printed exactly as kubectl's HumanDuration prints them."""
    assert human_duration(timedelta(seconds=seconds)) == shown


def test_table_layout() -> None:
    """Columns are the widest cell plus three spaces, at least six wide; the last is not padded."""
    text = format_table(["NAME", "AGE"], [["a", "5s"], ["longer-name", "3m"]])
    assert text.splitlines() == ["NAME          AGE", "a             5s", "longer-name   3m"]
    assert format_table(["A", "B"], [["x", "y"]]).splitlines() == ["A     B", "x     y"]


def _run(status: PipelineRunStatus | None = None) -> PipelineRun:
    meta = ObjectMeta(name="app-1", namespace="team-a", creation_timestamp=NOW - timedelta(seconds=90))
    return PipelineRun(
        metadata=meta, spec=PipelineRunSpec(pipeline_config_ref="app", commit="abc1234"), status=status
    )


def test_run_row_without_status_is_pending() -> None:
    """A run the projector has not written yet shows as Pending, with kubectl's columns."""
    assert header(PipelineRun, False) == ["NAME", "STATUS", "CONFIG", "COMMIT", "EVENT", "AGE"]
    assert row(_run(), NOW, False) == ["app-1", "Pending", "app", "abc1234", "<none>", "90s"]
    assert row(_run(PipelineRunStatus(phase="Running")), NOW, True)[:3] == ["team-a", "app-1", "Running"]


def test_run_row_shows_the_trigger_s_event() -> None:
    """A webhook's run shows what started it (push, tag, pull_request) in the EVENT column."""
    run = _run()
    run.spec.trigger = Trigger(event="pull_request", number=7)
    assert row(run, NOW, False)[4] == "pull_request"


def _config(status: PipelineConfigStatus | None, matrix: Matrix | None = None) -> PipelineConfig:
    spec = PipelineConfigSpec(
        repository="https://example.com/app",
        steps=[Step(name="t", image="a", commands=["true"])],
        matrix=matrix,
    )
    meta = ObjectMeta(name="app", namespace="team-a", creation_timestamp=NOW - timedelta(days=3))
    return PipelineConfig(metadata=meta, spec=spec, status=status)


def test_config_row_statistics() -> None:
    """Configs show the last run's age, the run count and the success rate as a percentage."""
    status = PipelineConfigStatus(last_run=NOW - timedelta(minutes=4), total_runs=4, success_rate=0.75)
    assert row(_config(status), NOW, False) == ["app", "https://example.com/app", "4m", "4", "75%", "3d"]
    assert row(_config(None), NOW, False) == ["app", "https://example.com/app", "<none>", "0", "<none>", "3d"]


def test_connection_row_last_event() -> None:
    """Connections show provider and the last event's type, short commit and age."""
    event = LastEvent(type="push", commit=SHA, timestamp=NOW - timedelta(seconds=30))
    conn = RepositoryConnection(
        metadata=ObjectMeta(name="repo", creation_timestamp=NOW),
        spec=RepositoryConnectionSpec(repository="https://example.com/app", provider="gitlab"),
        status=RepositoryConnectionStatus(last_event=event),
    )
    assert row(conn, NOW, False) == [
        "repo",
        "https://example.com/app",
        "gitlab",
        "push 0123456 (30s ago)",
        "0s",
    ]


def test_step_rows_and_progress_lines() -> None:
    """Steps show phase, exit code and duration; a running step counts up to now; unstarted has none."""
    done = StepStatus(
        name="build",
        phase="Failed",
        exit_code=2,
        reason="Error",
        start_time=NOW - timedelta(seconds=70),
        completion_time=NOW - timedelta(seconds=10),
    )
    running = StepStatus(name="test", phase="Running", start_time=NOW - timedelta(seconds=5))
    waiting = StepStatus(name="deploy")
    assert step_rows([done, running, waiting], NOW) == [
        ["build", "Failed", "2", "60s"],
        ["test", "Running", "<none>", "5s"],
        ["deploy", "Pending", "<none>", "<none>"],
    ]
    assert step_line(done) == "Failed, exit 2, 60s, Error"
    status = PipelineRunStatus(
        phase="Failed",
        start_time=NOW - timedelta(seconds=70),
        completion_time=NOW,
        steps=[StepStatus(name="build", phase="Succeeded", artifact_urls=["file:///o/app.tgz"])],
    )
    assert summary(_run(status), NOW).splitlines() == [
        "pipelinerun/app-1 Failed in 70s",
        "  artifact: file:///o/app.tgz",
    ]


def test_event_lines() -> None:
    """An event line is seq, UTC time with milliseconds, type, then its own facts as key=value."""
    ident = {
        "namespace": "ns",
        "run": "r",
        "uid": "u",
        "at": datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC),
    }
    finished = ev.StepFinished(step="test", exit_code=1, reason="Error", message="exit status 1", **ident)
    assert event_line(Received(event=finished, seq=7, subject="s")) == (
        '7 2026-01-02T03:04:05.678Z step.finished step=test exitCode=1 reason=Error message="exit status 1"'
    )
    requested = ev.RunRequested(spec=PipelineRunSpec(pipeline_config_ref="app", commit="abc1234"), **ident)
    assert event_line(Received(event=requested, seq=1, subject="s")).endswith("run.requested commit=abc1234")


def test_manual_runs_one_per_matrix_combination() -> None:
    """A matrix config gets one run per combination minus excludes, grouped names, matrixIndex set."""
    matrix = Matrix(
        dimensions={"py": ["3.11", "3.12"], "os": ["linux", "mac"]}, exclude=[{"py": "3.11", "os": "mac"}]
    )
    runs = manual_runs(_config(None, matrix), "abc1234", "main", "cli:me", NOW, "x7k2p")
    assert [r.metadata.name for r in runs] == ["app-x7k2p-1", "app-x7k2p-2", "app-x7k2p-3"]
    assert [r.spec.matrix_index for r in runs] == [
        {"py": "3.11", "os": "linux"},
        {"py": "3.12", "os": "linux"},
        {"py": "3.12", "os": "mac"},
    ]
    assert {(r.metadata.namespace, r.spec.pipeline_config_ref, r.spec.branch) for r in runs} == {
        ("team-a", "app", "main")
    }
    single = manual_runs(_config(None), "abc1234", None, "cli:me", NOW, "x7k2p")
    assert [(r.metadata.name, r.spec.matrix_index) for r in single] == [("app-x7k2p", None)]


def test_manual_run_names_fit_kubernetes_labels() -> None:
    """A long config name is cut so that every run name fits 63 characters."""
    config = _config(None, Matrix(dimensions={"n": [str(i) for i in range(12)]}))
    config.metadata.name = "c" * 200
    assert max(len(r.metadata.name) for r in manual_runs(config, "abc1234", None, "me", NOW, "x7k2p")) <= 63


def test_demo_push_verifies_with_the_webhook() -> None:
    """The demo's push delivery is signed as GitHub signs it and names its clone URL."""
    body = push_payload("git://127.0.0.1:9418/repo", "main", ZERO_SHA, SHA, NOW)
    headers = push_headers(b"s3cret", body, "d-1")
    assert verify_hmac(b"s3cret", body, headers["X-Hub-Signature-256"])
    assert not verify_hmac(b"other", body, headers["X-Hub-Signature-256"])
    envelope = github.envelope(headers, body)
    assert not isinstance(envelope, github.Refusal)
    assert envelope.repository_urls == ("git://127.0.0.1:9418/repo",)


def test_restart_backoff_doubles_to_a_cap() -> None:
    """Quick deaths in a row wait 1, 2, 4, ... seconds, never more than the cap."""
    assert [backoff(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 8.0]
    assert backoff(50) == MAX_BACKOFF
