"""Job-watcher configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings

GiB = 1024**3


class WatcherSettings(CommonSettings, frozen=True, kw_only=True):
    #: How long a pod may stay stuck before starting (image pull errors, a missing Secret,
    #: unschedulable) before its step fails with that reason.
    start_deadline_seconds: Annotated[float, Meta(gt=0)] = 300.0
    #: How often every known Job is looked at again (how the start deadline fires without a change).
    tick_seconds: Annotated[float, Meta(gt=0, le=300)] = 5.0
    #: The key upload tokens are signed with (the scheduler's C8S_ARTIFACT_UPLOAD_KEY); "": no
    #: upload endpoint (steps with artifacts then report their files as not uploaded).
    artifact_upload_key: str = ""
    #: Where the artifact upload endpoint listens (services/job_watcher/uploads.py).
    #: (all interfaces: step pods reach it through the job-watcher Service)
    upload_host: str = "0.0.0.0"
    upload_port: Annotated[int, Meta(ge=0, le=65535)] = 8090
    #: The largest artifact accepted (bytes).
    max_artifact_bytes: Annotated[int, Meta(gt=0)] = 5 * GiB
