"""An informer-style cache of PipelineRuns: every run held in memory from one watch, with indexes
by phase, by (namespace, pipelineConfigRef) and by commit, so a scheduler or CLI answers "which runs
are Running", "the runs of this config", "the runs of this commit" without a request.

RunIndex is the pure part: upsert/remove keep every index consistent with the run it was built
from (an update first drops the run's old index entries). RunCache feeds one from a KubeWatch:
the watch's list-then-watch (re-list on 410, DELETED for what vanished meanwhile) keeps it exact,
and `synced` is set once the first list has been applied. Reads return what the cache has seen,
which may trail the apiserver by the watch's latency: use the store for read-your-writes.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from typing import TypeVar

from adapters.kube_watch import KubeWatch
from api.pipelinerun import PipelineRun
from ports.resources import WatchEvent

Key = tuple[str, str]
V = TypeVar("V", str, Key)


def phase_of(run: PipelineRun) -> str:
    return run.status.phase if run.status is not None else "Pending"


class RunIndex:
    """Runs by (namespace, name), and the three secondary indexes."""

    def __init__(self) -> None:
        self._runs: dict[Key, PipelineRun] = {}
        self._by_phase: defaultdict[str, set[Key]] = defaultdict(set)
        self._by_config: defaultdict[Key, set[Key]] = defaultdict(set)
        self._by_commit: defaultdict[str, set[Key]] = defaultdict(set)

    def apply(self, event: WatchEvent) -> None:
        run = event.object
        if not isinstance(run, PipelineRun):
            return
        if event.type == "DELETED":
            self.remove(run.metadata.namespace, run.metadata.name)
        else:
            self.upsert(run)

    def upsert(self, run: PipelineRun) -> None:
        key = (run.metadata.namespace, run.metadata.name)
        self.remove(*key)
        self._runs[key] = run
        self._by_phase[phase_of(run)].add(key)
        self._by_config[(key[0], run.spec.pipeline_config_ref)].add(key)
        self._by_commit[run.spec.commit].add(key)

    def remove(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        old = self._runs.pop(key, None)
        if old is None:
            return
        _discard(self._by_phase, phase_of(old), key)
        _discard(self._by_config, (namespace, old.spec.pipeline_config_ref), key)
        _discard(self._by_commit, old.spec.commit, key)

    def get(self, namespace: str, name: str) -> PipelineRun | None:
        return self._runs.get((namespace, name))

    def by_phase(self, phase: str) -> list[PipelineRun]:
        return self._runs_of(self._by_phase.get(phase, set()))

    def by_config(self, namespace: str, config: str) -> list[PipelineRun]:
        return self._runs_of(self._by_config.get((namespace, config), set()))

    def by_commit(self, commit: str) -> list[PipelineRun]:
        return self._runs_of(self._by_commit.get(commit, set()))

    def __len__(self) -> int:
        return len(self._runs)

    def _runs_of(self, keys: set[Key]) -> list[PipelineRun]:
        return [self._runs[k] for k in sorted(keys)]


def _discard(index: dict[V, set[Key]], value: V, key: Key) -> None:
    keys = index.get(value)
    if keys is not None:
        keys.discard(key)
        if not keys:
            del index[value]


class RunCache:
    """A RunIndex kept current by one watch; run `follow()` in a task, await `synced.wait()`."""

    def __init__(self, watcher: KubeWatch[PipelineRun]) -> None:
        self.index = RunIndex()
        self._watcher = watcher

    @property
    def synced(self) -> asyncio.Event:
        return self._watcher.synced

    async def follow(self) -> None:
        """Apply every event of the watch until it ends (the store closed)."""
        events: AsyncIterator[WatchEvent] = self._watcher.events()
        async for event in events:
            self.index.apply(event)
