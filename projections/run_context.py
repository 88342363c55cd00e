"""What a run was asked to do: the run context fold.

Folds RunRequested (the run's spec) and RunAccepted (the config snapshot, taken once) into a
RunContext. Every service that acts on a step (scheduler, runner, job-watcher, log-shipper) plans
it from here (steps.plans), so all of them see the config the run was started with, never a later
edit.
"""

from __future__ import annotations

from datetime import datetime

from msgspec import Struct
from msgspec.structs import replace

from api.pipelineconfig import PipelineConfigSpec
from api.pipelinerun import PipelineRunSpec
from events.run import RunAccepted, RunEvent, RunRequested


class RunContext(Struct, frozen=True, kw_only=True):
    namespace: str = ""
    run: str = ""
    uid: str = ""
    spec: PipelineRunSpec | None = None
    config: str = ""
    snapshot: PipelineConfigSpec | None = None
    auth_secret_ref: str | None = None
    connection: str | None = None
    secrets_withheld: bool = False
    accepted_at: datetime | None = None


def evolve(ctx: RunContext, event: RunEvent) -> RunContext:
    if isinstance(event, RunRequested) and ctx.spec is None:
        return replace(ctx, namespace=event.namespace, run=event.run, uid=event.uid, spec=event.spec)
    if isinstance(event, RunAccepted) and ctx.snapshot is None:
        return replace(
            ctx,
            namespace=event.namespace,
            run=event.run,
            uid=event.uid,
            config=event.config,
            snapshot=event.snapshot,
            auth_secret_ref=event.auth_secret_ref,
            connection=event.connection,
            secrets_withheld=event.secrets_withheld,
            accepted_at=event.at,
        )
    return ctx
