"""A step's artifacts: files of its workspace matching its `artifacts` globs, copied to storage.

Globs match paths relative to the workspace: `*` and `?` stay within one directory, `**` crosses
directories (`reports/**` is everything below reports/, `**/*.xml` any XML file). `.git` is never
an artifact, and neither is anything outside the workspace: symbolic links are not followed out.
Each file is streamed to `<ns>/<run>/<uid>/<step>/artifacts/<relative path>`; uploading again
replaces the same object, so a redone upload after a restart changes nothing.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from api.branches import glob_regex
from ports.objects import ObjectStore, ObjectStoreUnavailable
from projections.run_context import StepRef

_CHUNK = 1024 * 1024
_ATTEMPTS = 3


def matching_files(workspace: Path, patterns: list[str]) -> list[str]:
    """Workspace-relative POSIX paths of the regular files matching any pattern, sorted."""
    if not patterns or not workspace.is_dir():
        return []
    regexes = [glob_regex(p.removeprefix("./")) for p in patterns]
    root = workspace.resolve()
    found = []
    for rel in _files(root):
        if any(r.match(rel) for r in regexes) and _inside(root, root / rel):
            found.append(rel)
    return sorted(found)


def _files(root: Path) -> list[str]:
    out = []
    for parent, dirs, names in os.walk(root):
        if Path(parent) == root and ".git" in dirs:
            dirs.remove(".git")
        rel_parent = Path(parent).relative_to(root)
        out += [(rel_parent / name).as_posix() for name in names]
    return out


def _inside(root: Path, path: Path) -> bool:
    resolved = path.resolve()
    return resolved.is_file() and resolved.is_relative_to(root)


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


async def upload(objects: ObjectStore, key: str, path: Path) -> tuple[str, int]:
    """Stream one file to `key`; returns its URL and size."""
    writer = await objects.writer(key)
    size = 0
    try:
        with path.open("rb") as f:
            while chunk := await asyncio.to_thread(f.read, _CHUNK):
                await writer.write(chunk)
                size += len(chunk)
    except BaseException:
        await writer.abort()
        raise
    return await writer.close(), size
