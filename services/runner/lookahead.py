"""Seeing runs coming: the store's new PipelineRuns start the checkouts their steps will want.

A PipelineRun is created by the webhook (or kubectl) before anything is published about it; the
scheduler's watch then publishes RunRequested, its consumer accepts the run and schedules the
first step. Watching the same PipelineRuns lets the runner start the checkout at the first of
these moments (services.runner.prefetch) instead of after them. What to fetch needs the run's
PipelineConfig and its connections: both are kept here from watches of their buckets (a read per
run would cost two store round trips, one of them a list, on the critical path; they are read
only for a run whose config the watch has not delivered yet, as at start), and the auth Secret is
read when there is one. Only ADDED runs are looked at, each uid once.

Everything here is speculative: a watch that fails is opened again after a pause, a missing
config or Secret means no prefetch, and nothing here publishes or claims. Local mode only (the
runner is local mode's executor); its bus identity may read these buckets (docs/security.md).
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from ports.resources import NotFound, R, ResourceStore, StoreUnavailable, WatchEvent
from services.runner import credentials
from services.runner.prefetch import Prefetcher
from services.runner.prefetching import guess

log = structlog.get_logger(__name__)
#: Run uids already looked at (a run is looked at once, whatever its later changes).
REMEMBERED_RUNS = 4096
#: Pause before a failed watch is opened again.
REWATCH_SECONDS = 1.0

Key = tuple[str, str]


class Lookahead:
    def __init__(self, store: ResourceStore, prefetcher: Prefetcher) -> None:
        self.store, self.prefetcher = store, prefetcher
        self.configs: dict[Key, PipelineConfig] = {}
        self.connections: dict[Key, RepositoryConnection] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    async def run(self) -> None:
        """Follow the three buckets until cancelled (nothing to do when prefetching is off)."""
        if not self.prefetcher.enabled:
            return
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._follow(PipelineConfig, self._kept(self.configs)))
            tasks.create_task(self._follow(RepositoryConnection, self._kept(self.connections)))
            tasks.create_task(self._follow(PipelineRun, self.on_run))

    async def _follow(self, kind: type[R], handle: Callable[[WatchEvent], object]) -> None:
        while True:
            try:
                async for change in self.store.watch(kind):
                    outcome = handle(change)
                    if asyncio.iscoroutine(outcome):
                        await outcome
            except StoreUnavailable as e:
                log.warning("lookahead.watch_failed", kind=kind.__name__, error=str(e))
            except Exception as e:  # speculative: never worth stopping the runner's steps for
                log.error("lookahead.watch_crashed", kind=kind.__name__, error=repr(e))
            await asyncio.sleep(REWATCH_SECONDS)

    @staticmethod
    def _kept(into: dict[Key, R]) -> Callable[[WatchEvent], None]:
        def keep(change: WatchEvent) -> None:
            meta = change.object.metadata
            if change.type == "DELETED":
                into.pop((meta.namespace, meta.name), None)
            else:
                into[(meta.namespace, meta.name)] = change.object  # type: ignore[assignment]

        return keep

    async def on_run(self, change: WatchEvent) -> None:
        run = change.object
        if change.type != "ADDED" or not isinstance(run, PipelineRun) or run.metadata.uid in self._seen:
            return
        self._seen[run.metadata.uid] = None
        while len(self._seen) > REMEMBERED_RUNS:
            self._seen.popitem(last=False)
        if not self.prefetcher.wants(run.metadata.uid):
            return
        ns = run.metadata.namespace
        try:
            config, connections = await self._inputs(ns, run.spec.pipeline_config_ref)
            found = guess(run, config, connections, datetime.now(UTC), self.prefetcher.fresh_for)
            if found is None:
                return
            auth = await credentials.git_auth(self.store, ns, found.source.auth_secret_ref)
        except (StoreUnavailable, credentials.MissingSecret) as e:
            log.info("prefetch.skipped", run=run.metadata.name, reason=str(e))
            return
        self.prefetcher.start(found, auth)

    async def _inputs(self, ns: str, name: str) -> tuple[PipelineConfig | None, list[RepositoryConnection]]:
        """The config and the namespace's connections as watched; read from the store when the
        config is not (yet) there (a run seen before the config watch caught up, e.g. at start)."""
        config = self.configs.get((ns, name))
        if config is None:
            try:
                config = await self.store.get(PipelineConfig, ns, name)
            except NotFound:
                return None, []
            return config, await self.store.list(RepositoryConnection, ns)
        ours = (c for (n, _), c in self.connections.items() if n == ns)
        return config, sorted(ours, key=lambda c: c.metadata.name)
