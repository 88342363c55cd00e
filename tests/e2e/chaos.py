"""A bounded chaos monkey for `c8s dev up`: kill -9 its processes while the test goes on.

In a thread of its own, until `stop()`, its time budget or its kill budget runs out:
- every 1-3 s (seeded, so a failing run can be replayed with its seed) one victim, taken in a
  shuffled round robin, is killed with SIGKILL; a victim is killed again only once `c8s dev up`
  has restarted it, and at most its budget of times (the supervisor's restart backoff doubles per
  quick death, so an unbounded monkey would mostly measure backoff);
- the runner is also killed right when its log shows it in the window between claiming a step and
  the step's start being published: at `step.claimed` (before and during the checkout) and at
  `step.launched` (the shim started, StepStarted not yet published), `targeted` times in all.
Only the chaos thread reads `c8s dev up`'s output while it runs; `kills` says what it did.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path

from tests.support.dev_up import DevUp, alive

TRIGGERS = ("step.claimed", "step.launched")


class Chaos:
    def __init__(
        self,
        dev: DevUp,
        budget: Mapping[str, int],
        *,
        seed: int,
        seconds: float,
        targeted: int,
    ) -> None:
        """`budget`: how many random kills each victim gets; `targeted`: runner kills in its window."""
        self.dev, self.rng = dev, random.Random(seed)
        self.budget, self.seconds, self.targeted = dict(budget), seconds, targeted
        self.random_kills: Counter[str] = Counter()
        #: Runner kills by the log line that triggered them.
        self.targeted_kills: Counter[str] = Counter()
        self._killed: set[int] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._runner_log = dev.home / "logs" / "runner.log"
        self._offset = self._runner_log.stat().st_size if self._runner_log.exists() else 0

    def start(self) -> Chaos:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)

    @property
    def total(self) -> int:
        return self.random_kills.total() + self.targeted_kills.total()

    def summary(self) -> str:
        return (
            f"{self.total} kills: {dict(sorted(self.random_kills.items()))} at random, "
            f"the runner at {dict(sorted(self.targeted_kills.items()))}"
        )

    def _run(self) -> None:
        end = time.monotonic() + self.seconds
        order = self._order()
        next_kill = time.monotonic() + self.rng.uniform(1, 3)
        while not self._stop.is_set() and time.monotonic() < end:
            self.dev.drain()
            self._kill_in_window()
            if time.monotonic() >= next_kill:
                victim = next((v for v in order if self._pid(v) is not None), None)
                if victim is not None and self._kill(victim):
                    self.random_kills[victim] += 1
                    order.remove(victim)
                    order = order or self._order()
                next_kill = time.monotonic() + self.rng.uniform(1, 3)
            self._stop.wait(0.01)

    def _kill_in_window(self) -> None:
        """Kill the runner when its log shows the trigger wanted next (they alternate)."""
        if self.targeted_kills.total() >= self.targeted:
            return
        wanted = TRIGGERS[self.targeted_kills.total() % len(TRIGGERS)]
        lines = _read_from(self._runner_log, self._offset)
        self._offset += len(lines)
        if f'"{wanted}"'.encode() in lines and self._kill("runner"):
            self.targeted_kills[wanted] += 1

    def _order(self) -> list[str]:
        """The victims with kills left, shuffled."""
        order = [v for v, n in self.budget.items() if self.random_kills[v] < n]
        self.rng.shuffle(order)
        return order

    def _pid(self, victim: str) -> int | None:
        """The victim's current pid, if it runs and was not killed already."""
        pid = self.dev.pids().get(victim)
        if pid is None or pid in self._killed or not alive(pid):
            return None
        return pid

    def _kill(self, victim: str) -> bool:
        pid = self._pid(victim)
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        self._killed.add(pid)
        return True


def _read_from(path: Path, offset: int) -> bytes:
    """Whole lines of `path` from `offset` (a partial last line is left for the next look)."""
    try:
        with path.open("rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return b""
    return data[: data.rfind(b"\n") + 1]
