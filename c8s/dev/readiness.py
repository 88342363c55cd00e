"""Waiting for local endpoints to come up: a TCP port that accepts, an HTTP path that answers 200.

Every wait polls against a deadline and reports progress through a callback every few seconds, so
a slow start shows on the terminal instead of looking like a hang.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

POLL_SECONDS = 0.1
PROGRESS_EVERY = 5.0


class NotReady(Exception):
    """The endpoint did not come up before the deadline."""


def free_port(host: str) -> int:
    """A port on `host` nothing listens on now (the kernel's choice)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    """Whether binding `host:port` fails (with SO_REUSEADDR, as servers bind)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


async def accepts(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def answers_ok(host: str, port: int, path: str) -> bool:
    """Whether GET `path` answers 200 (HTTP/1.0, no keep-alive)."""
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
    except (OSError, TimeoutError):
        return False
    try:
        writer.write(f"GET {path} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode())
        await writer.drain()
        status = await asyncio.wait_for(reader.readline(), 2.0)
    except (OSError, TimeoutError):
        return False
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    return status.split(b" ")[1:2] == [b"200"]


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, deadline: float, progress: Callable[[str], None]
) -> float:
    """Poll `check` until true; returns the seconds it took; NotReady after `deadline` seconds."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    next_note = start + PROGRESS_EVERY
    while not await check():
        now = loop.time()
        if now - start > deadline:
            raise NotReady(f"{what} not ready after {deadline:g}s")
        if now >= next_note:
            progress(f"still waiting for {what} ({now - start:.0f}s)")
            next_note = now + PROGRESS_EVERY
        await asyncio.sleep(POLL_SECONDS)
    return loop.time() - start
