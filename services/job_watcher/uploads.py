"""The artifact upload endpoint (Kubernetes mode): `PUT /artifacts/<key>` with a per-step token.

Step pods hold no object-storage credential. A step's artifacts container gets a token minted by
the scheduler (steps.upload_grant) and sends each file here; this endpoint, in c8s-system with
c8s's own storage credentials, writes it only when the token allows that key now: the step's own
artifact prefix, before its expiry. It serves nothing else: no GET, no listing (405/404), so a
pod can neither read nor enumerate any object through it. Answers: 201 with `{"url": ...}`;
401 no token; 403 refused (the reason, never the key); 413 past `max_bytes`; 503 storage down.
A refused or failed upload leaves no object (the writer is aborted).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterator, Callable

import structlog
from aiohttp import web

from ports.objects import ObjectStore, ObjectStoreUnavailable
from steps.upload_grant import UploadRefused, check

log = structlog.get_logger("c8s.uploads")
ROUTE = "/artifacts/{key:.+}"
_CHUNK = 1024 * 1024


class Uploads:
    """The handler's state: where objects go, the key tokens are checked with, the clock."""

    def __init__(
        self, store: ObjectStore, key: bytes, max_bytes: int, clock: Callable[[], float] = time.time
    ) -> None:
        self.store, self.key, self.max_bytes, self.clock = store, key, max_bytes, clock

    def app(self) -> web.Application:
        app = web.Application(client_max_size=_CHUNK)
        app.router.add_put(ROUTE, self.put)
        return app

    async def put(self, request: web.Request) -> web.Response:
        object_key = request.match_info["key"]
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme != "Bearer" or not token:
            return _refused(401, "an upload needs `Authorization: Bearer <step upload token>`")
        try:
            check(self.key, token, object_key, self.clock())
        except UploadRefused as e:
            log.warning("uploads.refused", key=object_key, reason=str(e))
            return _refused(403, str(e))
        return await self._store(request, object_key)

    async def _store(self, request: web.Request, object_key: str) -> web.Response:
        declared = request.content_length
        if declared is not None and declared > self.max_bytes:
            return _refused(413, f"an artifact may have at most {self.max_bytes} bytes")
        try:
            url = await self._write(request, object_key)
        except ObjectStoreUnavailable as e:
            log.warning("uploads.store_unavailable", key=object_key, error=str(e))
            return _refused(503, "object storage is unavailable, retry later")
        except _TooLarge:
            return _refused(413, f"an artifact may have at most {self.max_bytes} bytes")
        log.info("uploads.stored", key=object_key)
        return web.json_response({"url": url}, status=201)

    async def _write(self, request: web.Request, object_key: str) -> str:
        writer = await self.store.writer(object_key)
        size = 0
        try:
            while chunk := await request.content.read(_CHUNK):
                size += len(chunk)
                if size > self.max_bytes:
                    raise _TooLarge
                await writer.write(chunk)
        except BaseException:
            await writer.abort()
            raise
        return await writer.close()


class _TooLarge(Exception):
    pass


def _refused(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


@contextlib.asynccontextmanager
async def listening(uploads: Uploads, host: str, port: int) -> AsyncIterator[str]:
    """Serve the endpoint while the context is open; yields its base URL (port 0 picks one)."""
    runner = web.AppRunner(uploads.app(), access_log=None)
    await runner.setup()
    try:
        # reuse_port: job-watcher replicas on one host (dev up --replicas) share the port
        await web.TCPSite(runner, host, port, reuse_port=True).start()
        bound = runner.addresses[0]
        url = f"http://{bound[0]}:{bound[1]}"
        log.info("uploads.listening", url=url)
        yield url
    finally:
        await runner.cleanup()
