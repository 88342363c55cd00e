"""The object-storage port: where logs and artifacts are kept (never in etcd, never in the stream).

One adapter over fsspec serves both `file://` (local mode) and `s3://` through s3fs (any
S3-compatible endpoint), so local mode exercises the production code path.

Contract (tests/integration/test_object_store_contract.py, run on file:// and on a real S3 endpoint):
- keys are '/'-separated paths below the store's base URL; url(key) is the stable URL recorded in
  status (logURL, artifactURLs) and accepted back by read();
- a writer streams chunks and makes the object visible only when closed (a killed writer leaves
  no half object under the final key, and writing the same key again replaces it);
- read of a missing object raises ObjectNotFound; chunks(url) yields the same bytes in pieces of
  at most chunk_size, raising ObjectNotFound before the first piece when the object is missing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol


class ObjectNotFound(Exception):
    pass


class ObjectStoreUnavailable(Exception):
    """Retryable: the backend did not answer."""


class ObjectWriter(Protocol):
    async def write(self, chunk: bytes) -> None: ...

    async def close(self) -> str:
        """Finish the object; returns its URL."""
        ...

    async def abort(self) -> None: ...


class ObjectStore(Protocol):
    def url(self, key: str) -> str: ...

    async def put(self, key: str, data: bytes) -> str: ...

    async def writer(self, key: str) -> ObjectWriter: ...

    async def read(self, url: str) -> bytes: ...

    def chunks(self, url: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        """The object's bytes in order, a piece at a time (a download never holds it whole)."""
        ...
