"""Accepting a requested run: read the config once (read_inputs), then decide (accept, pure):
check it and snapshot it into RunAccepted.

Everything a run needs from the store is captured here (config spec, its generation, the run's
RepositoryConnection by api/triggers.py's one rule, its auth secret, and whether a fork's pull
request goes without the config's secrets), so the rest of the run never reads a config or a
connection again: later edits never change a running run. A run with a step whose requests
exceed a ResourceQuota's hard limit is rejected (QuotaExceeded) here: that step could never
start, so waiting would be forever.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from msgspec import Struct

from adapters.runtime.tasks import stop_tasks
from api.pipeline_checks import check_pipeline_spec
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec
from api.quotas import Quota, beyond_hard, pod_demand
from api.repositoryconnection import RepositoryConnection
from api.triggers import connection_of, withholds_secrets
from events.run import RunAccepted, RunIdentity, RunRejected
from ports.resources import NotFound, ResourceStore
from projections.run_context import RunContext

MAX_REPORTED = 5


class Inputs(Struct, frozen=True, kw_only=True):
    """What acceptance reads from the store, read before the pure decision."""

    config: PipelineConfig | None
    connection: RepositoryConnection | None


async def read_inputs(store: ResourceStore, ctx: RunContext) -> Inputs:
    """The run's config (None: not found) and its connection (api/triggers.py's rule), both
    requested at once: one round trip to the store on the way to a run's first step, not two."""
    assert ctx.spec is not None
    ref = ctx.spec.pipeline_config_ref
    listing = asyncio.ensure_future(store.list(RepositoryConnection, ctx.namespace))
    try:
        config = await store.get(PipelineConfig, ctx.namespace, ref)
    except BaseException as e:
        await stop_tasks([listing])
        if isinstance(e, NotFound):
            return Inputs(config=None, connection=None)
        raise
    return Inputs(config=config, connection=connection_of(ctx.spec, await listing))


def accept(
    ctx: RunContext, inputs: Inputs, quotas: Sequence[Quota], now: datetime
) -> RunAccepted | RunRejected:
    """Accept the run with a snapshot of its config, or reject it with a reason that says the fix."""
    assert ctx.spec is not None
    ident = RunIdentity(namespace=ctx.namespace, run=ctx.run, uid=ctx.uid, at=now)
    ref, config = ctx.spec.pipeline_config_ref, inputs.config
    if config is None:
        message = (
            f"PipelineConfig {ref!r} not found in namespace {ctx.namespace!r}: "
            "create it or fix spec.pipelineConfigRef"
        )
        return RunRejected(reason="ConfigNotFound", message=message, **ident)
    errors = check_pipeline_spec(config.spec, "spec")
    if errors:
        listed = "; ".join(str(e) for e in errors[:MAX_REPORTED])
        message = f"PipelineConfig {ref!r} is invalid: {listed}"
        return RunRejected(reason="InvalidConfig", message=message, **ident)
    never = _never_fits(config.spec, ref, ctx.namespace, quotas)
    if never:
        return RunRejected(reason="QuotaExceeded", message="; ".join(never[:MAX_REPORTED]), **ident)
    conn = inputs.connection
    return RunAccepted(
        config=ref,
        snapshot=config.spec,
        config_generation=config.metadata.generation,
        auth_secret_ref=conn.spec.auth_secret_ref if conn else None,
        connection=conn.metadata.name if conn else None,
        secrets_withheld=withholds_secrets(ctx.spec, conn),
        **ident,
    )


def _never_fits(spec: PipelineConfigSpec, ref: str, namespace: str, quotas: Sequence[Quota]) -> list[str]:
    """A message for each step request beyond a quota's hard limit."""
    out = []
    for step in spec.steps:
        for over in beyond_hard(pod_demand(step), quotas):
            wanted, allowed, _ = over.amounts()
            fix = f"lower resources.{over.field} of that step in PipelineConfig {ref!r} or raise the quota"
            if over.field == "pods":
                fix = "raise the quota"
            out.append(
                f"step {step.name!r} requests {over.field} {wanted} but ResourceQuota {over.quota!r} "
                f"allows at most {allowed} ({over.resource}) in namespace {namespace!r}, so it could "
                f"never start: {fix}"
            )
    return out
