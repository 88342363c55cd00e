"""An ObjectStore that can only upload, through c8s's artifact upload endpoint with a step's token.

What the artifacts container of a step pod writes with (services/artifact_sidecar): it holds no
storage credential, only its step's upload token (steps.upload_grant), and each object is sent
as one `PUT <endpoint>/artifacts/<key>` (services/job_watcher/uploads.py checks the token). A
writer spools its chunks to a temporary file and sends it on close, so a failed or aborted writer
sends nothing. `url` names where the object lands in the real store (the same URLs the local
runner reports); reading is not possible at all (ObjectNotFound).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import AsyncIterator
from typing import IO, Any

import aiohttp

from ports.objects import ObjectNotFound, ObjectStoreUnavailable

_TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=300)


class UploadRefusedByEndpoint(ObjectStoreUnavailable):
    """The endpoint refused the upload (4xx): the token does not allow it, or it is too big."""


class TokenUploadStore:
    def __init__(self, endpoint: str, token: str, base_url: str) -> None:
        self._endpoint, self._token, self._base = endpoint.rstrip("/"), token, base_url.rstrip("/")

    def url(self, key: str) -> str:
        return f"{self._base}/{key}"

    async def put(self, key: str, data: bytes) -> str:
        writer = await self.writer(key)
        await writer.write(data)
        return await writer.close()

    async def writer(self, key: str) -> TokenUploadWriter:
        return TokenUploadWriter(self, key, tempfile.TemporaryFile())

    async def read(self, url: str) -> bytes:
        raise ObjectNotFound(f"{url}: a step's upload token cannot read objects")

    async def chunks(self, url: str, chunk_size: int = 64 * 1024) -> AsyncIterator[bytes]:
        raise ObjectNotFound(f"{url}: a step's upload token cannot read objects")
        yield b""  # pragma: no cover - makes this an async generator

    async def send(self, key: str, body: IO[bytes]) -> str:
        headers = {"Authorization": f"Bearer {self._token}", "Content-Type": "application/octet-stream"}
        try:
            async with aiohttp.ClientSession(timeout=_TIMEOUT) as session:
                url = f"{self._endpoint}/artifacts/{key}"
                async with session.put(url, data=body, headers=headers) as response:
                    answer: Any = await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as e:
            raise ObjectStoreUnavailable(f"upload {key}: {e!r}") from e
        if response.status != 201:
            error = answer.get("error") if isinstance(answer, dict) else answer
            kind = UploadRefusedByEndpoint if response.status < 500 else ObjectStoreUnavailable
            raise kind(f"upload {key}: {response.status} {error}")
        return self.url(key)


class TokenUploadWriter:
    def __init__(self, store: TokenUploadStore, key: str, spool: IO[bytes]) -> None:
        self._store, self._key, self._spool = store, key, spool

    async def write(self, chunk: bytes) -> None:
        await asyncio.to_thread(self._spool.write, chunk)

    async def close(self) -> str:
        try:
            await asyncio.to_thread(self._spool.seek, 0)
            return await self._store.send(self._key, self._spool)
        finally:
            self._spool.close()

    async def abort(self) -> None:
        self._spool.close()
