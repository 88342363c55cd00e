"""How far this process knows a run's stored status to be: a skip, or a fold, without a store read.

A stored status never goes backwards (the store's compare-and-set drops a status behind it), so a
run whose status this process read or wrote at observedSequence S still has a status at S or
beyond: an event of that run at or below S is covered, exactly as the store read would say.

The status itself is kept too (`known`): the fold of the run's history up to S, which is all the
projector needs to fold the next event from (ports.bus.unfolded reads whatever lies between S and
it). So an event above S costs a status write and no store read; without this, in Kubernetes mode
every event of a burst cost an apiserver GET before its PATCH (bench/README.md, "Kubernetes mode,
projector lag"). If the stored status has moved past S meanwhile (another replica), the fold from
S is still the fold of the history, and the store drops it if it is behind (the projector then
forgets the run and reads it again).

Keyed by the run's uid too, so a run deleted and created again under the same name starts from
nothing; a terminal status covers everything (the projector never changes it) and is not kept.
Bounded: the least recently used runs are forgotten, which only costs a store read.
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
        self._seqs: OrderedDict[Key, tuple[int, PipelineRunStatus | None]] = OrderedDict()

    def covers(self, key: Key, seq: int) -> bool:
        return seq <= self._seqs.get(key, (0, None))[0]

    def known(self, key: Key) -> PipelineRunStatus | None:
        """The furthest status of a running run this process read or wrote (None: read the store)."""
        return self._seqs.get(key, (0, None))[1]

    def stored(self, key: Key, status: PipelineRunStatus) -> None:
        """`status` is (or was) stored for the run: remember how far it covers, never less."""
        terminal = status.phase in TERMINAL_RUN_PHASES
        seq = sys.maxsize if terminal else status.observed_sequence
        if seq >= self._seqs.get(key, (0, None))[0]:
            self._seqs[key] = (seq, None if terminal else status)
        self._seqs.move_to_end(key)
        if len(self._seqs) > self._size:
            self._seqs.popitem(last=False)

    def forget(self, key: Key) -> None:
        """The store refused what this process knew (behind it, or another object): read it again."""
        self._seqs.pop(key, None)

    def __len__(self) -> int:
        return len(self._seqs)
