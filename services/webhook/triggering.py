"""From a verified Delivery to the PipelineRuns it starts (pure: the clock is an argument).

Invariant: the same delivery always yields the same runs, with the same names. A run's name is
`<config>-<short sha>-<hash of (provider, delivery id, matrix combination)>`, cut to Kubernetes'
63 characters, so a retried delivery (or two replicas racing on it) hits AlreadyExists instead of
starting a second run, while two deliveries of one commit (a push and a pull request) both run.
The refs of one multi-ref delivery (`part` > 0) add their part to the hash, so each gets its runs.

Every run records its trigger (`spec.trigger`: the event, the RepositoryConnection it came
through, the provider's name of the repository, and for a pull request its number, target branch,
head repository and whether that is a fork), which the scheduler and notifier read instead of
guessing the connection. A fork's pull request is not run at all when its connection says
`forkPullRequests: Ignore`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime

from api.branches import matches_any
from api.matrix import expand_matrix
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun, PipelineRunSpec, Trigger
from api.repositoryconnection import RepositoryConnection
from services.webhook.providers import Delivery, Refusal

MAX_NAME = 63
MAX_BRANCH = 255
MAX_ACTOR = 255
_SHORT_SHA = 7
_HASH = 8
_LABEL_VALUE = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_KV_TOKEN = re.compile(r"^[-A-Za-z0-9_=]{1,200}$")

LABEL_CONFIG = "c8s.dev/config"
LABEL_DELIVERY = "c8s.dev/delivery"
LABEL_PROVIDER = "c8s.dev/provider"
ANNOTATION_DELIVERY = "c8s.dev/delivery-id"


def branch_refusal(config: PipelineConfig, delivery: Delivery) -> Refusal | None:
    """A 200 when the config's branch filters leave the delivery's branch (or tag, or a pull
    request's target branch) out."""
    branches, branch = config.spec.branches, delivery.filtered_branch
    if matches_any(branches, branch):
        return None
    shown = ", ".join(branches)
    reason = f"branch {branch!r} matches none of the branches [{shown}] of {config.metadata.name}"
    return Refusal(status=200, reason=reason)


def fork_refusal(connection: RepositoryConnection, delivery: Delivery) -> Refusal | None:
    """A 200 when the delivery is a fork's pull request and the connection ignores those."""
    if not delivery.fork or connection.spec.fork_pull_requests != "Ignore":
        return None
    name = connection.metadata.name
    return Refusal(status=200, reason=f"pull request from a fork: RepositoryConnection {name} ignores those")


def trigger_of(connection: RepositoryConnection, delivery: Delivery) -> Trigger:
    """What the run records about the event that started it."""
    pr = delivery.kind == "pull_request"
    return Trigger(
        event="pull_request" if pr else ("tag" if delivery.kind == "tag" else "push"),
        connection=connection.metadata.name,
        provider=delivery.provider,
        repository=delivery.identity[:512] or None,
        number=delivery.number if pr else None,
        target_branch=(delivery.target_branch[:MAX_BRANCH] or None) if pr else None,
        source_repository=(delivery.source_repository[:2048] or None) if pr else None,
        fork=pr and delivery.fork,
    )


def plan_runs(
    connection: RepositoryConnection, config: PipelineConfig, delivery: Delivery, at: datetime
) -> list[PipelineRun] | Refusal:
    """One PipelineRun per matrix combination (one run without a matrix), named deterministically."""
    if len(delivery.branch) > MAX_BRANCH:
        return Refusal(status=400, reason=f"branch name longer than {MAX_BRANCH} characters")
    matrix = config.spec.matrix
    combos: list[dict[str, str] | None] = list(expand_matrix(matrix)) if matrix else [None]
    return [_run(connection, config, delivery, at, combo) for combo in combos]


def _run(
    connection: RepositoryConnection,
    config: PipelineConfig,
    delivery: Delivery,
    at: datetime,
    combo: dict[str, str] | None,
) -> PipelineRun:
    name = config.metadata.name
    metadata = ObjectMeta(
        name=run_name(name, delivery, combo),
        namespace=connection.metadata.namespace,
        labels={
            LABEL_CONFIG: label_value(name),
            LABEL_DELIVERY: label_value(delivery.delivery),
            LABEL_PROVIDER: delivery.provider,
        },
        annotations={ANNOTATION_DELIVERY: delivery.delivery},
    )
    spec = PipelineRunSpec(
        pipeline_config_ref=name,
        commit=delivery.commit,
        branch=delivery.branch or None,
        triggered_by=(delivery.actor or f"{delivery.provider}-webhook")[:MAX_ACTOR],
        triggered_at=at,
        matrix_index=combo,
        trigger=trigger_of(connection, delivery),
    )
    return PipelineRun(metadata=metadata, spec=spec)


def run_name(config: str, delivery: Delivery, combo: dict[str, str] | None) -> str:
    """`<config>-<sha7>-<hash8>`, the config part cut so the whole fits 63 characters."""
    parts: list[object] = [delivery.provider, delivery.delivery, combo]
    if delivery.part:
        parts.append(delivery.part)
    identity = json.dumps(parts, sort_keys=True)
    digest = hashlib.sha256(identity.encode()).hexdigest()[:_HASH]
    suffix = f"-{delivery.commit[:_SHORT_SHA]}-{digest}"
    head = config[: MAX_NAME - len(suffix)].rstrip("-.")
    return head + suffix


def label_value(text: str) -> str:
    """`text` when it is a valid label value, else a stable digest of it that is one."""
    if _LABEL_VALUE.match(text):
        return text
    return "h-" + hashlib.sha256(text.encode()).hexdigest()[:40]


def delivery_key(provider: str, delivery: str) -> str:
    """The delivery log's key `<provider>.<delivery>` (a digest when the id has other characters)."""
    token = delivery if _KV_TOKEN.match(delivery) else "h-" + hashlib.sha256(delivery.encode()).hexdigest()
    return f"{provider}.{token}"
