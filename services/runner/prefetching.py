"""What to check out ahead of a run's steps, decided from the new PipelineRun (pure: no I/O).

The clone and checkout of the commit are most of the time between a webhook and its first step
(bench/README.md), and they need nothing the scheduler decides: the repository and its
credentials come from the PipelineConfig and RepositoryConnection the run names, the commit from
the run's spec. So the runner guesses them as soon as it sees the PipelineRun created (before
the scheduler has even published RunRequested: services.runner.lookahead), the way acceptance
will take them (api.triggers: connection_of, clone_source; steps.plans: the clone source of a
plan), and checks out while the scheduler accepts the run and schedules the step
(services.runner.prefetch). The guess is only ever a guess: a step uses a prefetched checkout
only when its plan (from RunAccepted's snapshot, read from the run's history as before) names
the same Source and its prepared credentials are the same values (`fits`); anything else (the
config edited in between, another connection, a rotated secret) clones afresh as before.

No guess for a config that acceptance would reject as invalid (the scheduler's check), so no URL
is cloned that no run of it would clone, nor for a run created longer ago than the prefetch's time
to live or already over (a watch's first snapshot of old runs starts no checkouts).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from msgspec import Struct

from api.pipeline_checks import check_pipeline_spec
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun
from api.repositoryconnection import RepositoryConnection
from api.triggers import clone_source, connection_of
from steps.plans import StepPlan


class Source(Struct, frozen=True, kw_only=True):
    """What a step's fresh checkout is made from: two checkouts of one Source hold the same tree."""

    repository: str
    commit: str
    fetch_ref: str | None = None
    auth_secret_ref: str | None = None


class Guess(Struct, frozen=True, kw_only=True):
    """The checkouts a requested run's steps will most likely ask for."""

    namespace: str
    uid: str
    source: Source
    #: At most one checkout per step of the config (one is made at a time, the next once taken).
    steps: int


def source_of(plan: StepPlan) -> Source:
    """The Source of a step's checkout (services.runner.checkout's arguments)."""
    return Source(
        repository=plan.repository,
        commit=plan.commit,
        fetch_ref=plan.fetch_ref,
        auth_secret_ref=plan.auth_secret_ref,
    )


def guess(
    run: PipelineRun,
    config: PipelineConfig | None,
    connections: Sequence[RepositoryConnection],
    now: datetime,
    fresh_for: timedelta,
) -> Guess | None:
    """What a new run's steps will check out, as acceptance would take it; None when there is
    nothing worth fetching (no or invalid config, no step, a run that is old or over)."""
    if config is None or not config.spec.steps or check_pipeline_spec(config.spec, "spec"):
        return None
    created = run.metadata.creation_timestamp
    if created is None or now - created > fresh_for:
        return None
    if run.status is not None and run.status.phase in TERMINAL_RUN_PHASES:
        return None
    spec = run.spec
    connection = connection_of(spec, connections)
    repository, fetch_ref = clone_source(config.spec.repository, spec.trigger)
    source = Source(
        repository=repository,
        commit=spec.commit,
        fetch_ref=fetch_ref,
        auth_secret_ref=connection.spec.auth_secret_ref if connection else None,
    )
    meta = run.metadata
    return Guess(namespace=meta.namespace, uid=meta.uid, source=source, steps=len(config.spec.steps))


def fits(guessed: Source, plan: StepPlan) -> bool:
    """Whether a checkout made for `guessed` is the one `plan` asks for (credentials compared apart)."""
    return guessed == source_of(plan)
