"""Log-shipper configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings


class ShipperSettings(CommonSettings, frozen=True, kw_only=True):
    #: Step logs shipped at once (a task each); further StepStarted events wait in the stream.
    concurrency: Annotated[int, Meta(gt=0, le=1000)] = 64
    #: How often a local step's log and exit files are looked at while the step runs.
    poll_seconds: Annotated[float, Meta(gt=0, le=10)] = 0.1
    #: Delay before a step whose secrets or storage were unavailable is shipped again from byte 0.
    retry_seconds: Annotated[float, Meta(gt=0)] = 5.0
