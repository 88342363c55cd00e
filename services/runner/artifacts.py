"""A step's artifacts: files of its workspace matching its `artifacts` globs, copied to storage.

Globs match paths relative to the workspace: `*` and `?` stay within one directory, `**` crosses
directories (`reports/**` is everything below reports/, `**/*.xml` any XML file). `.git` is never
an artifact, and neither is anything outside the workspace: symbolic links are not followed out.
Each file is streamed to `<ns>/<run>/<uid>/<step>/artifacts/<relative path>`; uploading again
replaces the same object, so a redone upload after a restart changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from adapters.runtime.artifact_files import matching_files, upload
from ports.objects import ObjectStore, ObjectStoreUnavailable
from steps.plans import StepRef

_ATTEMPTS = 3


def artifact_key(ref: StepRef, rel: str) -> str:
    return f"{ref.namespace}/{ref.run}/{ref.uid}/{ref.step}/artifacts/{rel}"


Uploaded = Callable[[str, str, int], Awaitable[None]]


async def upload_all(
    objects: ObjectStore, ref: StepRef, workspace: Path, patterns: list[str], on_uploaded: Uploaded
) -> list[str]:
    """Upload every matching file, calling on_uploaded(path, url, bytes) after each; returns the
    paths that could not be uploaded (the store kept failing)."""
    failed = []
    for rel in await asyncio.to_thread(matching_files, workspace, patterns):
        try:
            url, size = await _upload_retrying(objects, artifact_key(ref, rel), workspace / rel)
        except ObjectStoreUnavailable:
            failed.append(rel)
            continue
        await on_uploaded(rel, url, size)
    return failed


async def _upload_retrying(objects: ObjectStore, key: str, path: Path) -> tuple[str, int]:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            return await upload(objects, key, path)
        except ObjectStoreUnavailable:
            if attempt == _ATTEMPTS:
                raise
            await asyncio.sleep(0.5 * attempt)
    raise AssertionError("unreachable")
