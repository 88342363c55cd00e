"""Waiting for a process that is not our child to exit, without polling (Linux pidfd).

`exited(pid, limit)` returns when the process `pid` has exited or after `limit` seconds, whichever
comes first. It is a wake-up hint, never a verdict: a pid may be recycled or belong to another
host, so a caller always re-checks the state it waits for (files, locks) after it returns. Where
pidfd_open is missing (not Linux, kernel < 5.3) or the pid is gone, it degrades to sleeping the
limit (a gone pid returns at once: whatever it was waiting for has already happened).
"""

from __future__ import annotations

import asyncio
import contextlib
import os


async def exited(pid: int, limit: float) -> None:
    """Return once process `pid` has exited, or after `limit` seconds."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return
    except (AttributeError, OSError):
        await asyncio.sleep(limit)
        return
    loop = asyncio.get_running_loop()
    readable: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, _settle, readable)
    try:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(readable, limit)
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _settle(readable: asyncio.Future[None]) -> None:
    if not readable.done():
        readable.set_result(None)
