"""Superseded runs (services/webhook/superseding.py): which unfinished runs new runs make obsolete.

Covers: an older open run of the same config, connection and branch is superseded, a finished,
cancelled or newer one is not; other branches, configs and connections are left alone; pull
requests supersede by number; tags and hand-made runs never are; a retry's own runs are never
superseded by it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.meta import ObjectMeta
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus, Trigger, TriggerEvent
from services.webhook.superseding import superseded

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run(
    name: str, minutes: int, *, branch: str = "main", event: TriggerEvent = "push", config: str = "app-ci",
    connection: str | None = "app", number: int | None = None, phase: str | None = None, cancel: bool = False,
) -> PipelineRun:  # fmt: skip
    trigger = Trigger(event=event, connection=connection, number=number) if connection else None
    at = T0 + timedelta(minutes=minutes)
    spec = PipelineRunSpec(
        pipeline_config_ref=config, commit="abcdef1", branch=branch, triggered_at=at,
        trigger=trigger, cancel_requested=cancel,
    )  # fmt: skip
    status = PipelineRunStatus(phase=phase) if phase else None  # type: ignore[arg-type]
    return PipelineRun(metadata=ObjectMeta(name=name, namespace="team-a"), spec=spec, status=status)


def test_an_older_open_run_of_the_branch_is_superseded() -> None:
    """Only the older, unfinished, not yet cancelled run of the same ref goes."""
    new = [run("new", 10)]
    existing = [
        run("old", 1), run("running", 2, phase="Running"), run("done", 3, phase="Succeeded"),
        run("cancelling", 4, cancel=True), run("newer", 11), *new,
    ]  # fmt: skip
    assert superseded(existing, new) == ["old", "running"]


def test_other_refs_configs_and_connections_stay() -> None:
    """Another branch, config or connection is another line of runs."""
    existing = [run("b", 1, branch="dev"), run("c", 1, config="other"), run("d", 1, connection="fork")]
    assert superseded(existing, [run("new", 10)]) == []


def test_pull_requests_supersede_by_number_and_tags_never() -> None:
    """New commits on PR 7 supersede PR 7's runs; tags and hand-made runs are never superseded."""
    prs = [run("pr7", 1, event="pull_request", number=7), run("pr8", 1, event="pull_request", number=8)]
    assert superseded(prs, [run("new", 10, event="pull_request", number=7)]) == ["pr7"]
    tags = [run("v1", 1, event="tag")]
    assert superseded(tags, [run("v2", 10, event="tag")]) == []
    assert superseded([run("manual", 1, connection=None)], [run("new", 10)]) == []
