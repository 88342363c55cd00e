"""adapters.runtime.tasks: stopping tasks that absorb a cancel (as nats-py's wait_for can on 3.11)."""

from __future__ import annotations

import asyncio

from adapters.runtime.tasks import stop_task, stop_tasks


async def _absorbs_one_cancel(ticks: list[int]) -> None:
    """A loop whose first cancel is swallowed, the way a request's wait_for swallows it."""
    swallowed = False
    while True:
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            if swallowed:
                raise
            swallowed = True
        ticks.append(1)


async def _fails() -> None:
    raise RuntimeError("boom")


async def test_one_cancel_is_not_enough_for_such_a_loop() -> None:
    task = asyncio.create_task(_absorbs_one_cancel([]))
    await asyncio.sleep(0.02)
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=0.2)
    assert not done
    await stop_task(task)


async def test_stop_tasks_ends_every_task_even_one_that_absorbs_a_cancel() -> None:
    ticks: list[int] = []
    tasks = [asyncio.create_task(_absorbs_one_cancel(ticks)), asyncio.create_task(asyncio.sleep(60))]
    await asyncio.sleep(0.02)
    await asyncio.wait_for(stop_tasks(tasks, grace=0.05), 5)
    assert all(t.done() for t in tasks)


async def test_stop_tasks_drops_errors_of_tasks_that_already_failed() -> None:
    failed = asyncio.create_task(_fails())
    await asyncio.wait({failed})
    await stop_tasks([failed, asyncio.create_task(asyncio.sleep(60))])
    assert isinstance(failed.exception(), RuntimeError)
