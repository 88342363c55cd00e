"""A shim started ahead of need, so a step does not wait for a Python interpreter to start.

Starting `python -m services.runner.shim` costs an interpreter and its imports (tens of ms on an
idle machine, far more on a loaded one), all of it between a step's checkout and its start.
`Launcher` keeps one *spare* shim started in advance: a process that has done its imports and
waits on a socket (`--spare FD`). Handing it a step sends the claim's locked descriptor over the
socket (SCM_RIGHTS) with the ShimSpec, then closes the runner's end; the spare then goes on
exactly as a shim started for that step (services.runner.shim: fork, detach, start marker), and
the runner waits for it to detach as before. A new spare is started right after each hand-over
(after it, not during it: on a busy machine the new interpreter's start delayed the step's).

Invariants: a spare holds no step until handed one (the lock travels with the spec, so a spare
that dies before has taken nothing); a hand-over that fails before the whole spec was sent falls
back to a fresh shim (services.runner.launching.launch), so a dead spare never fails a step;
`close` ends the spare (its socket's EOF makes it exit) and waits for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import sys
from dataclasses import dataclass

import msgspec

from services.runner.launching import ShimFailed, launch, shim_environment
from services.runner.shim import ShimSpec


@dataclass
class Spare:
    proc: asyncio.subprocess.Process
    sock: socket.socket

    async def hand(self, spec: ShimSpec) -> bool:
        """Give the spare this step; False (nothing handed) when the spare is gone."""
        data = msgspec.json.encode(spec)
        try:
            socket.send_fds(self.sock, [data[:1]], [spec.lock_fd])
            await asyncio.get_running_loop().sock_sendall(self.sock, data[1:])
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            await self.discard()
            return False
        self.sock.close()
        output = await self.proc.stdout.read() if self.proc.stdout is not None else b""
        if await self.proc.wait() != 0:
            text = output.decode(errors="replace").strip()[-500:]
            raise ShimFailed(f"the step's shim did not start (exit code {self.proc.returncode}): {text}")
        return True

    async def discard(self) -> None:
        self.sock.close()
        with contextlib.suppress(ProcessLookupError):
            await self.proc.communicate()


async def start_spare() -> Spare | None:
    """A shim waiting for a step; None when it cannot be started (steps then start a fresh one)."""
    ours, theirs = socket.socketpair()
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.runner.shim",
            "--spare",
            str(theirs.fileno()),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
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
    """Launches each step's shim, through a spare started ahead when there is one."""

    def __init__(self) -> None:
        self._next: asyncio.Task[Spare | None] | None = None
        self._closed = False

    async def launch(self, spec: ShimSpec) -> None:
        """Start the shim for `spec` and return once it has detached (launching.launch's contract)."""
        # Taken before any await: steps launched at once never share a spare. The next spare is
        # started once this step's shim is off (an interpreter starting would compete for the CPU
        # with the hand-over; a step launched meanwhile starts a fresh shim, as without a spare).
        taken, self._next = self._next, None
        try:
            spare = await taken if taken is not None else None
            if spare is None or not await spare.hand(spec):
                await launch(spec)
        finally:
            if self._next is None and not self._closed:
                self._next = asyncio.create_task(start_spare())

    async def spare(self) -> Spare | None:
        """The spare the next step will be handed (for diagnostics and tests; it stays the next)."""
        return await self._next if self._next is not None else None

    def prepare(self) -> None:
        """Start the first spare (before any step asks for one)."""
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
