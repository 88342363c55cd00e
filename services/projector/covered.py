"""How far this process knows a run's stored status to cover: a skip without a store read.

A stored status never goes backwards (the store's compare-and-set drops a status behind it), so a
run whose status this process read or wrote at observedSequence S still has a status at S or
beyond: an event of that run at or below S is covered, exactly as the store read would say.
Keyed by the run's uid too, so a run deleted and created again under the same name starts from
nothing; a terminal status covers everything (the projector never changes it). Bounded: the
least recently used runs are forgotten, which only costs a store read.
"""

from __future__ import annotations

import sys
from collections import OrderedDict

from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRunStatus

#: Runs remembered per process.
REMEMBERED = 4096

Key = tuple[str, str, str]  # namespace, run, uid


class Covered:
    def __init__(self, size: int = REMEMBERED) -> None:
        self._size = size
        self._seqs: OrderedDict[Key, int] = OrderedDict()

    def covers(self, key: Key, seq: int) -> bool:
        return seq <= self._seqs.get(key, 0)

    def stored(self, key: Key, status: PipelineRunStatus) -> None:
        """`status` is (or was) stored for the run: remember how far it covers, never less."""
        seq = sys.maxsize if status.phase in TERMINAL_RUN_PHASES else status.observed_sequence
        self._seqs[key] = max(seq, self._seqs.get(key, 0))
        self._seqs.move_to_end(key)
        if len(self._seqs) > self._size:
            self._seqs.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seqs)
