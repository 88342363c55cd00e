"""Artifacts on disk to object storage: which workspace files match a step's `artifacts` patterns,
and streaming one file into the store.

Shared by both executors' uploaders (the local runner and the Kubernetes artifact sidecar), so a
pattern means the same in both modes. Patterns use the branch-glob rules (`*` stays inside one
directory, `**` crosses them); `.git` is skipped, and a symlink that leads outside the workspace
is never followed out of it.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from api.branches import glob_regex
from ports.objects import ObjectStore

_CHUNK = 1024 * 1024


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


async def upload(objects: ObjectStore, key: str, path: Path) -> tuple[str, int]:
    """Stream one file to `key`; returns its URL and size. A failed upload leaves no object."""
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
