"""The dashboard's pure view models and rendering (services/dashboard/listing.py, run_view.py,
actions.py, html_run.py).

Covers: the listing's filter and newest-first order, durations of running and finished runs; the
run page's steps as a DAG (levels after every dependency, edges kept, steps known only from status),
skipped steps with their reason and message, artifacts by index and name, commit links for the
three providers (and none for other hosts); re-run keeps the spec but not the cancel request nor
the delivery labels; CSRF tokens are per run; a hostile step log is escaped and every line has
its permalink anchor.
"""

from __future__ import annotations

from datetime import timedelta

from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfigSpec, Step
from api.pipelinerun import Condition, PipelineRun, PipelineRunSpec, PipelineRunStatus, StepStatus, Trigger
from events import run as ev
from services.dashboard.actions import Csrf, rerun_of
from services.dashboard.html_run import log_lines, run_page
from services.dashboard.inputs import RunFilter
from services.dashboard.listing import format_duration, run_row, run_rows
from services.dashboard.run_view import commit_url, dag_levels, run_view
from tests.support.runs import T0, at, ident, requested


def _run(name: str, created_s: int, phase: str = "Running", **spec: object) -> PipelineRun:
    meta = ObjectMeta(namespace="team-a", name=name, uid="uid-1", creation_timestamp=at(created_s),
                      labels={"c8s.dev/config": "app-ci", "c8s.dev/delivery": "d1"})  # fmt: skip
    status = PipelineRunStatus(phase=phase, start_time=at(created_s))  # type: ignore[arg-type]
    run_spec = PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1", **spec)  # type: ignore[arg-type]
    return PipelineRun(metadata=meta, spec=run_spec, status=status)


def test_listing_filters_and_orders_newest_first() -> None:
    """Only runs matching every filter field, newest first, within the limit."""
    runs = [
        _run("r1", 1, branch="main"),
        _run("r2", 3, branch="dev"),
        _run("r3", 2, branch="main", phase="Failed"),
    ]
    names = [r.name for r in run_rows(runs, RunFilter(), at(10))]
    assert names == ["r2", "r3", "r1"]
    assert [r.name for r in run_rows(runs, RunFilter(branch="main"), at(10))] == ["r3", "r1"]
    assert [r.name for r in run_rows(runs, RunFilter(phase="Failed"), at(10))] == ["r3"]
    assert [r.name for r in run_rows(runs, RunFilter(limit=1), at(10))] == ["r2"]
    assert run_rows(runs, RunFilter(namespace="other"), at(10)) == []


def test_running_duration_counts_to_now() -> None:
    """A running run's duration grows with `now`; a finished one stops at completion."""
    running = run_rows([_run("r", 0)], RunFilter(), at(65))[0]
    assert running.duration_seconds == 65 and format_duration(65) == "1m 05s"
    done = _run("d", 0, phase="Succeeded")
    assert done.status is not None
    done.status.completion_time = at(5)
    assert run_rows([done], RunFilter(), at(500))[0].duration_seconds == 5


def test_dag_levels() -> None:
    """A step's level is one more than its deepest dependency; unknown dependencies are ignored."""
    edges = {"lint": [], "build": [], "test": ["build"], "deploy": ["test", "lint"], "x": ["nope"]}
    assert dag_levels(edges) == {"lint": 0, "build": 0, "test": 1, "deploy": 2, "x": 0}


def _history() -> list[tuple[int, ev.RunEvent]]:
    snapshot = PipelineConfigSpec(
        repository="git@github.com:org/app.git",
        steps=[
            Step(name="build", image="a", commands=["make"]),
            Step(name="test", image="a", commands=["t"], depends_on=["build"]),
            Step(name="deploy", image="a", commands=["d"], depends_on=["test"]),
        ],
    )
    return [
        (1, requested()),
        (2, ev.RunAccepted(config="app-ci", snapshot=snapshot, **ident(1))),
        (9, ev.StepSkipped(step="deploy", reason="DependencyFailed", message="test failed", **ident(5))),
    ]


def test_run_view_steps_as_dag_with_skips_and_artifacts() -> None:
    """Snapshot steps merged with status; skipped step says why; artifacts listed by index."""
    run = _run("r", 0, phase="Failed")
    assert run.status is not None
    run.status.steps = [
        StepStatus(name="build", phase="Succeeded", exit_code=0, start_time=at(1), completion_time=at(4),
                   log_url="file:///o/build.log", artifact_urls=["file:///o/a/app.tar.gz"]),
        StepStatus(name="test", phase="Failed", exit_code=2, start_time=at(4), completion_time=at(5)),
        StepStatus(name="deploy", phase="Skipped", reason="DependencyFailed"),
    ]  # fmt: skip
    run.status.conditions = [Condition(type="Succeeded", status="False", reason="StepFailed", message="test")]
    view = run_view(run, _history(), at(30))
    assert [[s.name for s in level] for level in view.levels] == [["build"], ["test"], ["deploy"]]
    build, test, deploy = view.steps
    assert build.duration_seconds == 3 and build.has_log and build.artifacts[0].name == "app.tar.gz"
    assert test.exit_code == 2 and test.depends_on == ["build"]
    assert deploy.message == "DependencyFailed: test failed"
    assert (view.reason, view.message, view.terminal) == ("StepFailed", "test", True)
    assert view.commit_url == "https://github.com/org/app/commit/abcdef1"
    assert [e.seq for e in view.events] == [1, 2, 9] and "step=deploy" in view.events[2].details


def test_run_view_before_acceptance() -> None:
    """A run not accepted yet has no steps and no levels, and is not terminal."""
    view = run_view(_run("r", 0, phase="Pending"), [], T0)
    assert view.steps == [] and view.levels == [] and not view.terminal


def test_commit_urls() -> None:
    """GitHub, GitLab and Bitbucket commit pages; other hosts get no link."""
    assert commit_url("https://gitlab.com/g/p.git", "abc") == "https://gitlab.com/g/p/-/commit/abc"
    assert commit_url("https://bitbucket.org/t/r", "abc") == "https://bitbucket.org/t/r/commits/abc"
    assert commit_url("git://127.0.0.1:9418/repo", "abc") == ""
    assert commit_url("javascript:alert(1)//github.com/x", "abc") == ""


def test_rerun_keeps_spec_but_not_cancel_or_delivery() -> None:
    """The re-run has the same commit, branch and matrix, is not cancelled and has a generateName."""
    original = _run("r", 0, branch="main", matrix_index={"py": "3.12"}, cancel_requested=True)
    new = rerun_of(original, "dashboard", T0 + timedelta(hours=1))
    assert new.metadata.name == "" and new.metadata.generate_name == "app-ci-"
    assert new.metadata.labels == {"c8s.dev/config": "app-ci"}
    assert (new.spec.commit, new.spec.branch, new.spec.matrix_index) == ("abcdef1", "main", {"py": "3.12"})
    assert not new.spec.cancel_requested and new.spec.triggered_by == "dashboard"


def test_csrf_tokens_are_per_run_and_per_key() -> None:
    """A token is valid only for the run it was made for, and only under the same key."""
    csrf = Csrf(b"k" * 32)
    token = csrf.token("team-a", "r1")
    assert csrf.valid("team-a", "r1", token)
    assert not csrf.valid("team-a", "r2", token)
    assert not Csrf(b"j" * 32).valid("team-a", "r1", token)


def test_log_lines_escaped_with_permalinks() -> None:
    """Each line gets an id and a link to it; markup in the log stays text."""
    out = log_lines("build", b"ok\n<img src=x onerror=alert(1)>\n")
    assert '<div class="l" id="build-L1"><a href="#build-L1">1</a>ok</div>' in out
    assert "&lt;img src=x onerror=alert(1)&gt;" in out and "<img" not in out


def test_run_page_renders_actions_and_stream() -> None:
    """A running run's page has Cancel and Re-run forms with the token and a live stream URL."""
    view = run_view(_run("r", 0), _history(), at(3))
    page = run_page(view, {}, "tok123")
    assert 'action="/runs/team-a/r/cancel"' in page and 'action="/runs/team-a/r/rerun"' in page
    assert page.count('value="tok123"') == 2 and 'data-stream="/runs/team-a/r/stream"' in page


def test_rows_show_what_triggered_the_run() -> None:
    """A pull request run lists its number, target branch and event; a push shows its branch."""
    trigger = Trigger(event="pull_request", number=42, target_branch="main", provider="github")
    pr = run_row(_run("r1", 1, branch="feature/x", trigger=trigger), at(10))
    push = run_row(_run("r2", 1, branch="main", trigger=Trigger(event="push")), at(10))
    manual = run_row(_run("r3", 1, branch="main"), at(10))
    assert (pr.pr, pr.target_branch, pr.event) == (42, "main", "pull_request")
    assert (push.pr, push.event, manual.event) == (None, "push", "manual")
    runs = [_run("r1", 1, trigger=trigger), _run("r2", 2)]
    assert [r.name for r in run_rows(runs, RunFilter(pr=42), at(10))] == ["r1"]
