"""Builders for run events in tests: a fixed run identity, times one second apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from api.pipelineconfig import PipelineConfigSpec, Step
from api.pipelinerun import PipelineRunSpec
from events import run as ev

T0 = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
NS, RUN, UID, CONFIG = "team-a", "app-ci-1", "uid-1", "app-ci"


def at(second: int) -> datetime:
    return T0 + timedelta(seconds=second)


def ident(second: int = 0) -> dict[str, Any]:
    return {"namespace": NS, "run": RUN, "uid": UID, "at": at(second)}


def config(*names: str) -> PipelineConfigSpec:
    return PipelineConfigSpec(
        repository="https://example.com/org/app",
        steps=[Step(name=n, image="alpine", commands=["true"]) for n in names],
    )


def requested(second: int = 0) -> ev.RunRequested:
    return ev.RunRequested(
        spec=PipelineRunSpec(pipeline_config_ref=CONFIG, commit="abcdef1"), **ident(second)
    )


def accepted(*names: str, second: int = 1) -> ev.RunAccepted:
    return ev.RunAccepted(config=CONFIG, snapshot=config(*names), **ident(second))
