"""Superseded runs: which unfinished runs a delivery's new runs make obsolete (`superseded`, pure),
and asking them to cancel (`cancel_superseded`, over the store port).

A push to a branch, or new commits on a pull request, supersede the runs of the same config,
through the same connection, for the same branch (pushes) or the same pull request (by number)
that were triggered earlier and have not finished: nobody waits for a verdict on a commit that is
no longer the head. Tags are never superseded (each is a release of its own), nor are runs created
by hand (they have no trigger). A config opts out with `cancelSuperseded: false`. Runs of the
delivery itself (a retry finds them by name) are never superseded by it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRun
from ports.resources import NotFound, ResourceStore

Ref = tuple[str, str, str, str]


def ref_of(run: PipelineRun) -> Ref | None:
    """(config, connection, kind, branch or PR number) of a run a newer one can supersede."""
    trigger, spec = run.spec.trigger, run.spec
    if trigger is None or trigger.connection is None:
        return None
    if trigger.event == "push" and spec.branch:
        return spec.pipeline_config_ref, trigger.connection, "branch", spec.branch
    if trigger.event == "pull_request" and trigger.number is not None:
        return spec.pipeline_config_ref, trigger.connection, "pull", str(trigger.number)
    return None


def superseded(existing: Sequence[PipelineRun], new: Sequence[PipelineRun]) -> list[str]:
    """Names of the runs in `existing` that the `new` runs supersede, in name order."""
    mine = {run.metadata.name for run in new}
    latest = {ref: run.spec.triggered_at for run in new if (ref := ref_of(run)) is not None}
    names = []
    for run in existing:
        ref, at = ref_of(run), run.spec.triggered_at
        if ref not in latest or run.metadata.name in mine or not is_open(run):
            continue
        newest = latest[ref]
        if at is not None and newest is not None and at < newest:
            names.append(run.metadata.name)
    return sorted(names)


async def cancel_superseded(store: ResourceStore, namespace: str, new: Sequence[PipelineRun]) -> None:
    """Set cancelRequested on every run the `new` ones supersede (one gone meanwhile is skipped)."""
    for name in superseded(await store.list(PipelineRun, namespace), new):
        with contextlib.suppress(NotFound):
            await store.request_cancel(namespace, name)


def is_open(run: PipelineRun) -> bool:
    """Not finished and not asked to cancel."""
    phase = run.status.phase if run.status is not None else "Pending"
    return phase not in TERMINAL_RUN_PHASES and not run.spec.cancel_requested
