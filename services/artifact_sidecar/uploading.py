"""The artifacts container: wait for the step's commands to end, upload matching files, report.

It needs no API, no bus and no storage credentials: each file is sent to c8s's upload endpoint
with the step's own upload token (steps.upload_grant; it allows writing under this step's
artifact prefix only, until the Job's deadline), and the result leaves through the container's
termination message (steps.artifact_report), which the job-watcher turns into
ArtifactUploaded events. Files are uploaded whatever the step's exit code (test reports matter
most when tests fail). Globs match workspace-relative paths as in local mode: `*` stays in one
directory, `**` crosses them; `.git` and anything a symbolic link leads out of the workspace to
are never artifacts. Uploading the same key again replaces the object, so a rerun is harmless.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from adapters.runtime.artifact_files import matching_files, upload
from ports.objects import ObjectStore, ObjectStoreUnavailable
from services.artifact_sidecar.config import SidecarSettings
from steps.artifact_report import ArtifactReport, encode


async def serve(store: ObjectStore, settings: SidecarSettings, stop: asyncio.Event) -> None:
    """Once the step's commands end, upload the matching files and leave the report; nothing when
    the pod is stopped first (`stop`)."""
    waiting = asyncio.create_task(wait_for_step(Path(settings.step_exit), settings.poll_seconds))
    stopped = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait([waiting, stopped], return_when=asyncio.FIRST_COMPLETED)
    for task in (waiting, stopped):
        task.cancel()
    if waiting not in done:
        return
    waiting.result()
    patterns: list[str] = json.loads(settings.artifact_patterns)
    report = await upload_all(store, settings.artifact_prefix, Path(settings.workspace), patterns)
    await asyncio.to_thread(Path(settings.termination_log).write_bytes, encode(report))


async def wait_for_step(exit_file: Path, poll_seconds: float) -> None:
    """Return once the step container's wrapper wrote its exit code (the pod is killed otherwise)."""
    while not await asyncio.to_thread(exit_file.exists):  # noqa: ASYNC110 - another container writes it
        await asyncio.sleep(poll_seconds)


async def upload_all(store: ObjectStore, prefix: str, workspace: Path, patterns: list[str]) -> ArtifactReport:
    files: list[tuple[str, int]] = []
    failed: list[str] = []
    for rel in await asyncio.to_thread(matching_files, workspace, patterns):
        try:
            _, size = await upload(store, prefix + rel, workspace / rel)
            files.append((rel, size))
        except (ObjectStoreUnavailable, OSError):
            failed.append(rel)
    return ArtifactReport(base=store.url(prefix.rstrip("/")) + "/", files=files, failed=failed)
