"""The runner's step slots (services.runner.slots) and the exit wake-up (adapters.runtime.exits).

Covers: a free slot is taken at once; a waiter gets the slot the moment a step releases it, oldest
first; a full queue and a wait that outlives its limit are refused without holding a slot; a
cancelled waiter holds none; `refuses` is true exactly when acquire would give up at once;
re-attached steps are counted beyond the limit; `exited` returns when
a process that is not our child exits (long before its limit), at once for a gone pid, and after
its limit for a live one.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from adapters.runtime.exits import exited
from services.runner.slots import Slots


async def test_a_free_slot_is_taken_at_once() -> None:
    """Below the limit, acquire succeeds without waiting and counts the slot."""
    slots = Slots(size=2, queue=4)
    assert await slots.acquire(0.01) and await slots.acquire(0.01)
    assert slots.used == 2


async def test_refuses_exactly_when_acquire_gives_up_at_once() -> None:
    """refuses is false while a slot or a queue place is free, true once both are taken, and an
    acquire then returns False without waiting."""
    slots = Slots(size=1, queue=1)
    assert not slots.refuses()
    await slots.acquire(0.01)
    assert not slots.refuses()  # the queue has room: acquire would wait
    waiter = asyncio.create_task(slots.acquire(5))
    await asyncio.sleep(0)
    assert slots.refuses()
    began = time.monotonic()
    assert await slots.acquire(5) is False
    assert time.monotonic() - began < 1
    slots.release()
    assert await waiter is True and not slots.refuses()


async def test_a_released_slot_goes_to_the_oldest_waiter() -> None:
    """Waiters are handed slots in arrival order, as steps release them."""
    slots = Slots(size=1, queue=4)
    await slots.acquire(0.01)
    first = asyncio.create_task(slots.acquire(5))
    await asyncio.sleep(0)
    second = asyncio.create_task(slots.acquire(5))
    await asyncio.sleep(0)
    assert slots.waiting == 2
    slots.release()
    assert await first is True
    assert not second.done() and slots.used == 1
    slots.release()
    assert await second is True
    slots.release()
    assert slots.used == 0 and slots.waiting == 0


async def test_a_full_queue_and_an_expired_wait_are_refused() -> None:
    """Beyond the queue, or once the limit passes, acquire is False and holds nothing."""
    slots = Slots(size=1, queue=1)
    await slots.acquire(0.01)
    waiter = asyncio.create_task(slots.acquire(0.05))
    await asyncio.sleep(0)
    assert await slots.acquire(5) is False
    assert await waiter is False
    assert slots.used == 1 and slots.waiting == 0
    slots.release()
    assert slots.used == 0


async def test_a_cancelled_waiter_holds_no_slot() -> None:
    """Cancelling a waiter leaves the queue; a later release frees the slot instead."""
    slots = Slots(size=1, queue=2)
    await slots.acquire(0.01)
    waiter = asyncio.create_task(slots.acquire(5))
    await asyncio.sleep(0)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    slots.release()
    assert slots.used == 0 and slots.waiting == 0


async def test_reattached_steps_count_beyond_the_limit() -> None:
    """`take` counts a step without waiting even when every slot is used."""
    slots = Slots(size=1, queue=2)
    await slots.acquire(0.01)
    slots.take()
    assert slots.used == 2
    slots.release()
    assert await slots.acquire(0.01) is False


GRANDCHILD = (
    "import os, time\npid = os.fork()\nif pid: print(pid, flush=True); os._exit(0)\n"
    "os.close(1)\ntime.sleep(2)\n"
)


def spawn_grandchild() -> int:
    """A process whose parent has exited (so not our child), alive for about two seconds."""
    out = subprocess.run([sys.executable, "-c", GRANDCHILD], stdout=subprocess.PIPE, text=True, check=True)
    return int(out.stdout)


def alive(pid: int) -> bool:
    """Whether `pid` runs (exists and is not a zombie waiting for its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def gone_pid() -> int:
    script = "import os; print(os.getpid())"
    out = subprocess.run([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, check=True)
    return int(out.stdout)


async def test_exited_wakes_when_a_process_that_is_not_our_child_ends() -> None:
    """A grandchild's exit wakes `exited` well before its limit."""
    grandchild = spawn_grandchild()
    assert alive(grandchild)
    began = time.monotonic()
    await exited(grandchild, 60)
    assert time.monotonic() - began < 30  # woken by the exit, not by the limit
    assert not alive(grandchild)


async def test_exited_returns_at_once_for_a_gone_pid_and_after_the_limit_for_a_live_one() -> None:
    """A pid that no longer exists returns at once; our own live pid waits out the limit."""
    await asyncio.wait_for(exited(gone_pid(), 30), 10)
    began = time.monotonic()
    await exited(os.getpid(), 0.05)
    assert time.monotonic() - began >= 0.05
