"""Log-shipper configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings

#: A step's stored log is cut here by default (100 MiB), with a marker line (C8S_MAX_LOG_BYTES).
DEFAULT_MAX_LOG_BYTES = 100 * 1024 * 1024
#: A step silent this long has its held-back tail released to the live log (C8S_QUIET_SECONDS).
DEFAULT_QUIET_SECONDS = 0.2


class ShipperSettings(CommonSettings, frozen=True, kw_only=True):
    #: Step logs shipped at once (a task each); further StepStarted events wait in the stream.
    concurrency: Annotated[int, Meta(gt=0, le=1000)] = 64
    #: How often a local step's log and exit files are looked at while the step runs.
    poll_seconds: Annotated[float, Meta(gt=0, le=10)] = 0.1
    #: Delay before a step whose secrets or storage were unavailable is shipped again from byte 0.
    retry_seconds: Annotated[float, Meta(gt=0)] = 5.0
    #: A step's stored log keeps this many bytes of masked output, then one marker line.
    max_log_bytes: Annotated[int, Meta(ge=1024)] = DEFAULT_MAX_LOG_BYTES
    #: After this long without output, the masker's held-back tail that cannot be a secret's
    #: start goes live (a quiet step's last line shows while it runs).
    quiet_seconds: Annotated[float, Meta(gt=0, le=60)] = DEFAULT_QUIET_SECONDS
