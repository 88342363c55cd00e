"""The ObjectStore port over fsspec: `file://` (local mode) and `s3://` through s3fs, one code path.

Invariant: an object appears under its final key whole or not at all. A writer streams into
- local files: a hidden temp file beside the final one (`.<name>.<hex>.partial`, same directory,
  hence same filesystem), renamed over the final path on close (rename is atomic on POSIX);
- S3 (and any other fsspec backend): the final key, opened with autocommit=False, so the upload
  (a multipart upload for big objects) is completed only by close's commit. A killed writer leaves
  an incomplete multipart upload, invisible, for the bucket's lifecycle rule to reap.
Writing a key again replaces the object.

S3 endpoint and credentials come from the standard environment (AWS_ENDPOINT_URL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION), which botocore reads itself.
fsspec's file API is blocking: every call runs in a worker thread (asyncio.to_thread). Library
errors leave as ObjectNotFound (missing) or ObjectStoreUnavailable (anything else, retryable).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, TypeVar

import fsspec
from botocore.exceptions import BotoCoreError, ClientError  # type: ignore[import-untyped]

from ports.objects import ObjectNotFound, ObjectStoreUnavailable

T = TypeVar("T")
_FAILURES = (OSError, BotoCoreError, ClientError, ValueError)
#: S3's smallest multipart part: a writer buffers at most this much before uploading a part.
PART_SIZE = 5 * 1024 * 1024


class FsspecObjectStore:
    """ObjectStore over one fsspec URL prefix, e.g. file:///var/c8s/objects or s3://bucket/logs."""

    def __init__(self, base_url: str) -> None:
        self._base = base_url.rstrip("/")
        self._fs, self._root = fsspec.core.url_to_fs(self._base, skip_instance_cache=True)
        self._local = "file" in _protocols(self._fs)

    def url(self, key: str) -> str:
        return f"{self._base}/{_checked(key)}"

    async def put(self, key: str, data: bytes) -> str:
        writer = await self.writer(key)
        try:
            await writer.write(data)
        except BaseException:
            await writer.abort()
            raise
        return await writer.close()

    async def writer(self, key: str) -> FsspecWriter:
        path = f"{self._root}/{_checked(key)}"
        return await _blocking(f"open {key}", lambda: self._open(path, self.url(key)))

    async def read(self, url: str) -> bytes:
        path = self._path_of(url)
        data: bytes = await _blocking(f"read {url}", lambda: self._fs.cat_file(path))
        return data

    async def chunks(self, url: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        path = self._path_of(url)
        file = await _blocking(f"open {url}", lambda: self._fs.open(path, "rb"))
        try:
            while chunk := await _blocking(f"read {url}", lambda: file.read(chunk_size)):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    def _path_of(self, url: str) -> str:
        if not url.startswith(self._base + "/"):
            raise ObjectNotFound(f"{url} is not in the object store {self._base}")
        return f"{self._root}/{_checked(url[len(self._base) + 1 :])}"

    def _open(self, path: str, url: str) -> FsspecWriter:
        fs = self._fs
        if not self._local:
            file = fs.open(path, "wb", autocommit=False, block_size=PART_SIZE)
            return FsspecWriter(file, url, commit=file.commit, discard=lambda: _discard_upload(file))
        parent, _, name = path.rpartition("/")
        fs.makedirs(parent, exist_ok=True)
        temp = f"{parent}/.{name}.{uuid.uuid4().hex}.partial"
        return FsspecWriter(
            fs.open(temp, "wb"), url, commit=lambda: fs.mv(temp, path), discard=lambda: fs.rm_file(temp)
        )


class FsspecWriter:
    """One object being written; `close` makes it visible, `abort` throws it away."""

    def __init__(
        self, file: Any, url: str, *, commit: Callable[[], object], discard: Callable[[], object]
    ) -> None:
        self._file = file
        self._url = url
        self._commit = commit
        self._discard = discard

    async def write(self, chunk: bytes) -> None:
        await _blocking(f"write {self._url}", lambda: self._file.write(chunk), write=True)

    async def close(self) -> str:
        await _blocking(f"commit {self._url}", self._finish, write=True)
        return self._url

    async def abort(self) -> None:
        """Best effort: what a failed abort leaves is never visible under the key anyway."""
        with contextlib.suppress(ObjectStoreUnavailable):
            await _blocking(f"abort {self._url}", self._throw_away, write=True)

    def _finish(self) -> None:
        self._file.close()
        self._commit()

    def _throw_away(self) -> None:
        if not self._file.closed:
            with contextlib.suppress(*_FAILURES):
                self._file.close()
        with contextlib.suppress(FileNotFoundError):
            self._discard()


def _discard_upload(file: Any) -> None:
    """Abort an uncommitted S3 upload; mark the file closed so nothing flushes it later."""
    file.discard()
    file.closed = True


def _checked(key: str) -> str:
    """Keys are relative '/'-separated paths: no empty, '.' or '..' segment, no leading '/'."""
    if not key or any(part in ("", ".", "..") for part in key.split("/")):
        raise ValueError(f"invalid object key {key!r}")
    return key


def _protocols(fs: Any) -> set[str]:
    proto = fs.protocol
    return {proto} if isinstance(proto, str) else set(proto)


async def _blocking(what: str, call: Callable[[], T], *, write: bool = False) -> T:
    with _translated(what, write):
        return await asyncio.to_thread(call)


@contextlib.contextmanager
def _translated(what: str, write: bool) -> Iterator[None]:
    """Missing on read is ObjectNotFound; missing while writing (no bucket) is a backend problem."""
    try:
        yield
    except FileNotFoundError as e:
        if write:
            raise ObjectStoreUnavailable(f"{what}: {e!r}") from e
        raise ObjectNotFound(f"{what}: not found") from e
    except _FAILURES as e:
        raise ObjectStoreUnavailable(f"{what}: {e!r}") from e
