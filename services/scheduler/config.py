"""Scheduler configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings


class SchedulerSettings(CommonSettings, frozen=True, kw_only=True):
    #: How long a finished run waits for its steps' logs before it finishes anyway.
    log_grace_seconds: Annotated[float, Meta(gt=0)] = 120.0
    #: How often open runs are re-examined for the pipeline timeout and the log grace.
    tick_seconds: Annotated[float, Meta(gt=0)] = 1.0
