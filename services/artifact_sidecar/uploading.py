"""The artifacts container: wait for the step's commands to end, upload matching files, report.

It needs no API and no bus credentials: object-storage credentials come from the Job (the
`c8s-artifacts-credentials` Secret as env), and the result leaves through the container's
termination message (projections.artifact_report), which the job-watcher turns into
ArtifactUploaded events. Files are uploaded whatever the step's exit code (test reports matter
most when tests fail). Globs match workspace-relative paths as in local mode: `*` stays in one
directory, `**` crosses them; `.git` and anything a symbolic link leads out of the workspace to
are never artifacts. Uploading the same key again replaces the object, so a rerun is harmless.
"""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

from adapters.object_store import FsspecObjectStore
from api.branches import glob_regex
from ports.objects import ObjectStore, ObjectStoreUnavailable
from projections.artifact_report import ArtifactReport, encode
from services.artifact_sidecar.config import SidecarSettings

_CHUNK = 1024 * 1024


async def main(settings: SidecarSettings) -> int:
    await wait_for_step(Path(settings.step_exit), settings.poll_seconds)
    patterns: list[str] = json.loads(settings.artifact_patterns)
    store = FsspecObjectStore(settings.object_store)
    report = await upload_all(store, settings.artifact_prefix, Path(settings.workspace), patterns)
    await asyncio.to_thread(Path(settings.termination_log).write_bytes, encode(report))
    return 0


async def wait_for_step(exit_file: Path, poll_seconds: float) -> None:
    """Return once the step container's wrapper wrote its exit code (the pod is killed otherwise)."""
    while not await asyncio.to_thread(exit_file.exists):  # noqa: ASYNC110 - another container writes it
        await asyncio.sleep(poll_seconds)


async def upload_all(store: ObjectStore, prefix: str, workspace: Path, patterns: list[str]) -> ArtifactReport:
    files: list[tuple[str, int]] = []
    failed: list[str] = []
    for rel in await asyncio.to_thread(matching_files, workspace, patterns):
        try:
            files.append((rel, await upload(store, prefix + rel, workspace / rel)))
        except (ObjectStoreUnavailable, OSError):
            failed.append(rel)
    return ArtifactReport(base=store.url(prefix.rstrip("/")) + "/", files=files, failed=failed)


async def upload(store: ObjectStore, key: str, path: Path) -> int:
    writer = await store.writer(key)
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, _CHUNK):
                await writer.write(chunk)
                size += len(chunk)
    except BaseException:
        await writer.abort()
        raise
    await writer.close()
    return size


def matching_files(workspace: Path, patterns: list[str]) -> list[str]:
    """Workspace-relative POSIX paths of the regular files matching any pattern, sorted."""
    if not patterns or not workspace.is_dir():
        return []
    regexes = [glob_regex(p.removeprefix("./")) for p in patterns]
    root = workspace.resolve()
    found = []
    for parent, dirs, names in os.walk(root):
        if Path(parent) == root and ".git" in dirs:
            dirs.remove(".git")
        for name in names:
            rel = (Path(parent).relative_to(root) / name).as_posix()
            resolved = (root / rel).resolve()
            if any(r.match(rel) for r in regexes) and resolved.is_file() and resolved.is_relative_to(root):
                found.append(rel)
    return sorted(found)
