"""Configuration of the artifacts container, from the env the Job gives it (steps.job_manifest)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct


class SidecarSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    #: JSON list of workspace-relative globs (`**` crosses directories).
    artifact_patterns: str
    #: Object key prefix, `<ns>/<run>/<uid>/<step>/artifacts/`.
    artifact_prefix: str
    #: Base URL of object storage (file://... or s3://bucket/prefix), to report where files land.
    object_store: str
    #: c8s's artifact upload endpoint (services/job_watcher/uploads.py) and this step's token
    #: (steps.upload_grant): the only storage access the pod has.
    upload_url: str
    upload_token: str
    workspace: str = "/workspace"
    #: Written by the step container's wrapper when its commands end.
    step_exit: str = "/c8s/step-exit"
    termination_log: str = "/dev/termination-log"
    poll_seconds: Annotated[float, Meta(gt=0, le=60)] = 0.5
