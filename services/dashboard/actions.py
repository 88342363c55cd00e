"""Cancel and Re-run, the two things the dashboard changes, and the CSRF tokens guarding them.

Cancel sets spec.cancelRequested through the resource store (the scheduler does the rest, as for
`c8s cancel`). Re-run creates a new PipelineRun with the same spec (commit, branch, trigger, matrix
combination), minus the cancel request, triggered by the user who asked (Kubernetes mode) or
"dashboard" (local mode), named by the store from generateName `<config>-`, labelled
like the original except for the delivery labels (a re-run is no webhook delivery).

CSRF: a form carries `hmac(key, "<namespace>/<run>")`; the key is random per process (or given),
so a page from another origin cannot forge a token (it cannot read ours), and a token is good only
for the run it was rendered for. Compared in constant time.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from msgspec.structs import replace

from api.meta import ObjectMeta
from api.pipelinerun import PipelineRun
from ports.resources import NotFound, ResourceStore
from services.dashboard.reading import Missing

_DROPPED_LABELS = ("c8s.dev/delivery", "c8s.dev/provider")
MAX_GENERATE_PREFIX = 52


class Csrf:
    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, namespace: str, run: str) -> str:
        return hmac.new(self._key, f"{namespace}/{run}".encode(), hashlib.sha256).hexdigest()

    def valid(self, namespace: str, run: str, token: str) -> bool:
        return hmac.compare_digest(self.token(namespace, run), token)


async def cancel(store: ResourceStore, namespace: str, name: str) -> None:
    try:
        await store.request_cancel(namespace, name)
    except NotFound:
        raise Missing(f"no pipelinerun {name!r} in namespace {namespace!r}") from None


def rerun_of(run: PipelineRun, by: str, at: datetime) -> PipelineRun:
    """The new run: same spec, not cancelled, triggered by `by` at `at` (pure)."""
    copied = replace(run.spec, cancel_requested=False, triggered_by=by, triggered_at=at)
    labels = {k: v for k, v in run.metadata.labels.items() if k not in _DROPPED_LABELS}
    prefix = run.spec.pipeline_config_ref[:MAX_GENERATE_PREFIX].rstrip("-.") + "-"
    meta = ObjectMeta(generate_name=prefix, namespace=run.metadata.namespace, labels=labels)
    return PipelineRun(metadata=meta, spec=copied)


async def rerun(store: ResourceStore, run: PipelineRun, by: str, at: datetime) -> str:
    """Create the re-run; returns its name."""
    created = await store.create(rerun_of(run, by, at))
    return created.metadata.name
