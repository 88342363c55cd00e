"""adapters.runtime.lifecycle closes what the composition root registered for the process.

Covers: a closer registered during `main` is awaited once main returned, and also when main
failed; one failing closer does not keep the others from running; outside `run` registering
does nothing.
"""

from __future__ import annotations

import asyncio

import pytest

from adapters.runtime.lifecycle import close_on_exit, run


class Client:
    def __init__(self, fails: bool = False) -> None:
        self.fails, self.closed = fails, 0

    async def close(self) -> None:
        self.closed += 1
        if self.fails:
            raise OSError("connection reset while closing")


def test_registered_clients_are_closed_when_main_returns() -> None:
    """Every closer registered by main runs once main is done, a failing one included."""
    clients = [Client(), Client(fails=True), Client()]

    async def main(stop: asyncio.Event) -> None:
        for c in clients:
            close_on_exit(c.close)

    run("closing-test", main, health=False)
    assert [c.closed for c in clients] == [1, 1, 1]


def test_registered_clients_are_closed_when_main_fails() -> None:
    """A crashing main still has its clients closed before the exception leaves run."""
    client = Client()

    async def main(stop: asyncio.Event) -> None:
        close_on_exit(client.close)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run("closing-test", main, health=False)
    assert client.closed == 1


async def test_outside_run_registering_does_nothing() -> None:
    """Without run (a test composing services itself) nothing is kept or closed."""
    client = Client()
    close_on_exit(client.close)
    assert client.closed == 0
