"""adapters.runtime.keyed_locks: one key's holders one at a time, in arrival order; other keys at
once; `waiting` counts the queue behind the holder; an entry lives only while someone uses it."""

from __future__ import annotations

import asyncio

from adapters.runtime.keyed_locks import KeyedLocks


async def test_one_key_in_arrival_order_other_keys_at_once() -> None:
    locks, order, gate = KeyedLocks(), [], asyncio.Event()

    async def hold(key: str, n: int) -> None:
        async with locks.held(key):
            order.append((key, n, "in"))
            if n == 0:
                await gate.wait()
            order.append((key, n, "out"))

    tasks = [asyncio.create_task(hold("a", n)) for n in range(3)]
    other = asyncio.create_task(hold("b", 9))
    await other  # "b" went through while "a" 0 held its lock
    assert locks.waiting("a") == 2 and locks.waiting("b") == 0 and len(locks) == 1
    gate.set()
    await asyncio.gather(*tasks)
    assert [x for x in order if x[0] == "a"] == [("a", n, s) for n in range(3) for s in ("in", "out")]
    assert len(locks) == 0 and locks.waiting("a") == 0


async def test_an_exception_releases_the_key() -> None:
    locks = KeyedLocks()
    try:
        async with locks.held("a"):
            raise KeyError("a")
    except KeyError:
        pass
    assert len(locks) == 0
    async with asyncio.timeout(1), locks.held("a"):
        assert locks.waiting("a") == 0
