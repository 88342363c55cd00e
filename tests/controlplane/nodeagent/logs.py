"""Container logs of the test node agent, and the kubelet endpoint that serves them over TLS.

A container's output is the raw file adapters.runtime.processes writes; beside it, in memory, the agent keeps
when each chunk arrived, so ``timestamps`` and ``sinceSeconds`` work the way the kubelet's do (a line
is stamped with the arrival time of its first byte). The endpoint implements the part of the kubelet
API the apiserver's pods/log proxies to: ``GET /containerLogs/{namespace}/{pod}/{container}`` with
``follow``, ``tailLines``, ``timestamps``, ``sinceSeconds``, ``sinceTime`` and ``limitBytes``. Only
clients with a certificate from the plane's CA (the apiserver's kubelet client) are served.
"""

from __future__ import annotations

import asyncio
import bisect
import datetime as dt
import socket
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

_READ = 64 * 1024


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class ContainerLog:
    """One container's output file plus the arrival time of every chunk written to it."""

    path: Path
    offsets: list[int] = field(default_factory=list)
    times: list[dt.datetime] = field(default_factory=list)
    size: int = 0
    finished: bool = False
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)

    def on_output(self, chunk: bytes) -> None:
        """Record a chunk just appended to the file (called by adapters.runtime.processes)."""
        self.offsets.append(self.size)
        self.times.append(_now())
        self.size += len(chunk)
        self._wake()

    def finish(self) -> None:
        """Mark the container as exited: followers stop once they have read everything."""
        self.finished = True
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for w in waiters:
            if not w.done():
                w.set_result(None)

    def time_at(self, offset: int) -> dt.datetime:
        i = bisect.bisect_right(self.offsets, offset) - 1
        return self.times[i] if i >= 0 else _now()

    async def wait_beyond(self, offset: int) -> None:
        """Return once the file holds more than ``offset`` bytes or the container has finished."""
        while not (self.size > offset or self.finished):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter


@dataclass(frozen=True)
class LogQuery:
    follow: bool = False
    tail_lines: int | None = None
    timestamps: bool = False
    since: dt.datetime | None = None
    limit_bytes: int | None = None

    @classmethod
    def from_request(cls, q: dict[str, str]) -> LogQuery:
        since = None
        if "sinceSeconds" in q:
            since = _now() - dt.timedelta(seconds=int(q["sinceSeconds"]))
        elif "sinceTime" in q:
            since = dt.datetime.fromisoformat(q["sinceTime"].replace("Z", "+00:00"))
        return cls(
            follow=q.get("follow") == "true",
            tail_lines=int(q["tailLines"]) if "tailLines" in q else None,
            timestamps=q.get("timestamps") == "true",
            since=since,
            limit_bytes=int(q["limitBytes"]) if "limitBytes" in q else None,
        )


def _tail_offset(path: Path, lines: int) -> int:
    data = path.read_bytes()
    if lines <= 0:
        return len(data)
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _ in range(lines):
        end = data.rfind(b"\n", 0, end)
        if end < 0:
            return 0
    return end + 1


def _stamp(t: dt.datetime) -> bytes:
    return t.strftime("%Y-%m-%dT%H:%M:%S.%fZ").encode()


async def _batches(log: ContainerLog, query: LogQuery) -> AsyncIterator[list[tuple[int, bytes]]]:
    """(offset, line) pairs, one batch per read of the file, the last line possibly without its
    newline; waits for more if following. Batches keep a big log from costing one write per line."""
    offset = _tail_offset(log.path, query.tail_lines) if query.tail_lines is not None else 0
    pending = b""
    with log.path.open("rb") as f:
        f.seek(offset)
        while True:
            chunk = f.read(_READ)
            if chunk:
                pending += chunk
                *complete, pending = pending.split(b"\n")
                batch = []
                for line in complete:
                    batch.append((offset, line + b"\n"))
                    offset += len(line) + 1
                if batch:
                    yield batch
                continue
            if not query.follow or (log.finished and log.size <= offset + len(pending)):
                break
            await log.wait_beyond(offset + len(pending))
    if pending:
        yield [(offset, pending)]


async def stream(log: ContainerLog, query: LogQuery) -> AsyncIterator[bytes]:
    """The response body for ``query``: lines, optionally stamped, filtered and limited."""
    budget = query.limit_bytes
    async for batch in _batches(log, query):
        out = b"".join(_render(log, query, offset, line) for offset, line in batch)
        if budget is not None:
            out = out[:budget]
            budget -= len(out)
        if out:
            yield out
        if budget is not None and budget <= 0:
            return


def _render(log: ContainerLog, query: LogQuery, offset: int, line: bytes) -> bytes:
    at = log.time_at(offset)
    if query.since is not None and at < query.since:
        return b""
    return _stamp(at) + b" " + line if query.timestamps else line


class LogServer:
    """The kubelet's containerLogs endpoint on 127.0.0.1, port chosen by the OS."""

    def __init__(self, ca: Path, cert: Path, key: Path) -> None:
        self.logs: dict[tuple[str, str, str], ContainerLog] = {}
        self._ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca))
        self._ssl.load_cert_chain(str(cert), str(key))
        self._ssl.verify_mode = ssl.CERT_REQUIRED
        app = web.Application()
        app.router.add_get("/containerLogs/{namespace}/{pod}/{container}", self._container_logs)
        app.router.add_get("/healthz", self._healthz)
        self._runner = web.AppRunner(app, handle_signals=False)
        self.port = 0

    async def start(self) -> None:
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock, ssl_context=self._ssl).start()

    async def stop(self) -> None:
        for log in self.logs.values():
            log.finish()
        await self._runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    async def _container_logs(self, request: web.Request) -> web.StreamResponse:
        m = request.match_info
        log = self.logs.get((m["namespace"], m["pod"], m["container"]))
        if log is None:
            raise web.HTTPNotFound(text=f"container {m['container']!r} of pod {m['namespace']}/{m['pod']} "
                                   "has not been started on this node")
        try:
            query = LogQuery.from_request(dict(request.query))
        except ValueError as e:
            raise web.HTTPBadRequest(text=str(e)) from e
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        async for piece in stream(log, query):
            await response.write(piece)
        await response.write_eof()
        return response
