"""A spare shim: one process, started ahead, that forks each step's shim with its imports done.

Starting `python -m services.runner.shim` costs an interpreter and its imports: tens of ms on an
idle machine, ~100 ms of CPU per step on this project's loaded 2-CPU machine (bench/README.md), the
largest CPU cost of a whole run, and on a busy machine CPU spent beside a run is time added to it.
So `Launcher` keeps one *spare*: `python -m services.runner.shim --spare FD`, started once, which
has done its imports and waits on a socket. Handing it a step sends an 8-byte length and the
ShimSpec over the socket, the first bytes carrying (SCM_RIGHTS) the claim's locked descriptor and
the write end of a fresh `done` socket; the spare forks, and its child goes on exactly as a shim
started for that step (services.runner.shim: setsid, subreaper, start marker, supervision), then
closes `done` once the start marker is on disk; the runner's hand-over returns at that EOF
(launching.launch's contract). The spare serves every step of the runner, several at once (sends
are serialised; each step waits on its own `done`).

Invariants: a spare holds no step until handed one (the lock travels with the request, and the
spare closes its copies right after the fork, so the lock is then held by the step's shim alone,
or by nobody if that shim died before its marker: services.runner.recovery's "never started").
A request is acted on only when it arrived whole; a hand-over that fails before that (the spare
is gone) discards the spare, so it cannot act on half a request, and the step gets a fresh shim
(launching.launch): a dead spare never fails a step, and the next step gets a new spare. `close`
closes the socket (the spare exits at EOF) and waits for it. The shims a spare forked are its
children but in sessions of their own: the spare's exit, or the runner's, leaves them running.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from dataclasses import dataclass, field

import msgspec

from services.runner.launching import launch, shim_environment
from services.runner.shim import LENGTH, ShimSpec


@dataclass
class Spare:
    proc: asyncio.subprocess.Process
    sock: socket.socket
    sending: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def hand(self, spec: ShimSpec) -> bool:
        """Have the spare fork this step's shim; True once its start marker is on disk (or once it
        died trying), False (nothing handed, the spare discarded) when the spare is gone."""
        loop = asyncio.get_running_loop()
        data = msgspec.json.encode(spec)
        ours, theirs = socket.socketpair()
        try:
            async with self.sending:
                try:
                    socket.send_fds(self.sock, [LENGTH.pack(len(data))], [spec.lock_fd, theirs.fileno()])
                    await loop.sock_sendall(self.sock, data)
                except OSError:
                    await self.discard()
                    return False
            theirs.close()
            ours.setblocking(False)
            await loop.sock_recv(ours, 1)  # EOF: every copy of `theirs` is closed
            return True
        finally:
            theirs.close()
            ours.close()

    async def discard(self) -> None:
        self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            await self.proc.wait()


async def start_spare() -> Spare | None:
    """A spare waiting for steps; None when it cannot be started (steps then start a fresh shim)."""
    ours, theirs = socket.socketpair()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.runner.shim",
            "--spare",
            str(theirs.fileno()),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            pass_fds=(theirs.fileno(),),
            env=shim_environment(os.environ),
        )
    except OSError:
        ours.close()
        return None
    finally:
        theirs.close()
    ours.setblocking(False)
    return Spare(proc, ours)


class Launcher:
    """Launches each step's shim, through the spare when there is one."""

    def __init__(self) -> None:
        self._next: asyncio.Task[Spare | None] | None = None
        self._closed = False

    async def launch(self, spec: ShimSpec) -> None:
        """Start the shim for `spec` and return once it has detached (launching.launch's contract)."""
        task = self._next
        spare = await task if task is not None else None
        if spare is not None and spare.proc.returncode is None and await spare.hand(spec):
            return
        if self._next is task and not self._closed:  # one new spare, however many steps saw it gone
            self._next = asyncio.create_task(start_spare())
        if spare is not None:
            await spare.discard()
        await launch(spec)

    async def spare(self) -> Spare | None:
        """The spare the next step will be handed to (for diagnostics and tests)."""
        return await self._next if self._next is not None else None

    def prepare(self) -> None:
        """Start the spare (before any step asks for it)."""
        if self._next is None:
            self._next = asyncio.create_task(start_spare())

    async def close(self) -> None:
        self._closed = True
        task, self._next = self._next, None
        if task is None:
            return
        spare = await task
        if spare is not None:
            await spare.discard()
