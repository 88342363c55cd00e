"""Reading a stored step log back by the logURL a run's status holds (`c8s logs`, the demo's
progress)."""

from __future__ import annotations

from adapters.object_store import FsspecObjectStore


async def read_object(url: str) -> bytes:
    """The object at a logURL, through the object store rooted at its directory."""
    base = url.rsplit("/", 1)[0]
    return await FsspecObjectStore(base).read(url)
