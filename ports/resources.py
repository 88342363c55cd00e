"""The resource-store port: get/list/watch/create the c8s resources and write their status.

Adapters: NATS KV buckets (local mode, adapters/jetstream/kv/store.py) and the Kubernetes API (CRDs and core
Secrets, adapters/kube/store.py). One contract suite (tests/integration/test_resource_store_contract.py)
runs against both.

Contract:
- create assigns metadata.uid, creationTimestamp, generation 1 and resourceVersion, ignores status
  (as the apiserver does for a status subresource), fills a name from metadata.generateName when
  there is none, and fails with AlreadyExists when the name is taken (so deterministic names make
  creation idempotent); a Secret's stringData is folded into data (base64), as the apiserver does;
- apply creates or replaces spec/metadata.labels/annotations, keeping uid and status; generation
  grows when the spec changes;
- patch_status writes the status subresource only, never going backwards: a status whose
  observedSequence is below the stored one is dropped (returns None), conflicts are retried inside,
  and `uid` (when given) must match, so a status for a deleted-and-recreated object is dropped;
- watch yields the current objects as ADDED, then every change, in order per object (a deletion as
  DELETED with the last known object); it survives connection loss and expired watches by
  re-listing (consumers must treat ADDED as upsert and tolerate MODIFIED for an unseen object);
- every library failure leaves the adapter as one of the errors below.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Literal, Protocol, TypeVar

from msgspec import Struct

from api.pipelineconfig import PipelineConfig, PipelineConfigStatus
from api.pipelinerun import PipelineRun, PipelineRunStatus
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionStatus
from api.secret import Secret

Resource = PipelineConfig | PipelineRun | RepositoryConnection | Secret
R = TypeVar("R", PipelineConfig, PipelineRun, RepositoryConnection, Secret)
AnyStatus = PipelineConfigStatus | PipelineRunStatus | RepositoryConnectionStatus

#: Kind name -> type, for CLIs and manifests.
KINDS: dict[str, type[Resource]] = {
    "PipelineConfig": PipelineConfig,
    "PipelineRun": PipelineRun,
    "RepositoryConnection": RepositoryConnection,
    "Secret": Secret,
}


class StoreError(Exception):
    """Base of the resource-store errors."""


class NotFound(StoreError):
    pass


class AlreadyExists(StoreError):
    pass


class Conflict(StoreError):
    """An update lost a race after the adapter's retries."""


class StoreUnavailable(StoreError):
    """The backend cannot be reached right now (retryable)."""


class Invalid(StoreError):
    """The request cannot succeed as made (no name, a status of another kind, an undecodable object)."""


class Forbidden(StoreError):
    """The backend refused this process's identity (Kubernetes RBAC: 403); retrying will not help."""


class NotOnboarded(Forbidden):
    """A c8s service may not read a team namespace's Secrets: the namespace was never onboarded.

    The message starts with the namespace and the command that fixes it (it is shown in statuses
    and events, which may cut long texts), then the backend's own words."""

    def __init__(self, namespace: str, detail: str) -> None:
        self.namespace = namespace
        super().__init__(f"{not_onboarded(namespace)} ({detail})")


def not_onboarded(namespace: str) -> str:
    """What to tell a user whose namespace lacks the c8s RoleBindings, and the fix."""
    return (
        f"namespace {namespace} is not onboarded to c8s: run "
        f"`c8s team onboard {namespace} | kubectl apply -f -` (as a cluster admin)"
    )


class WatchEvent(Struct, frozen=True, kw_only=True):
    type: Literal["ADDED", "MODIFIED", "DELETED"]
    object: Resource


class ResourceStore(Protocol):
    async def get(self, kind: type[R], namespace: str, name: str) -> R:
        """The object, or NotFound."""
        ...

    async def list(self, kind: type[R], namespace: str | None = None) -> list[R]:
        """Objects of a kind, in one namespace or all, ordered by namespace then name."""
        ...

    async def create(self, obj: R) -> R: ...

    async def apply(self, obj: R) -> R: ...

    async def delete(self, kind: type[R], namespace: str, name: str) -> None:
        """Delete; NotFound when absent."""
        ...

    async def request_cancel(self, namespace: str, name: str) -> PipelineRun:
        """Set a PipelineRun's spec.cancelRequested to true (idempotent)."""
        ...

    async def patch_status(
        self, kind: type[R], namespace: str, name: str, status: AnyStatus, *, uid: str | None = None
    ) -> R | None:
        """Write the status; None when dropped as stale or for another uid; NotFound when absent."""
        ...

    def watch(self, kind: type[R], namespace: str | None = None) -> AsyncIterator[WatchEvent]: ...

    async def close(self) -> None: ...
