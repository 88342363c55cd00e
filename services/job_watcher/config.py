"""Job-watcher configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings


class WatcherSettings(CommonSettings, frozen=True, kw_only=True):
    #: How long a pod may stay stuck before starting (image pull errors, a missing Secret,
    #: unschedulable) before its step fails with that reason.
    start_deadline_seconds: Annotated[float, Meta(gt=0)] = 300.0
    #: How often every known Job is looked at again (how the start deadline fires without a change).
    tick_seconds: Annotated[float, Meta(gt=0, le=300)] = 5.0
