"""What every resource store does with a status write, whatever its backend: the status must be
the kind's own type (status_checked), and a write behind the stored status or for another object
(by uid) is dropped (stale). Shared by the KV and Kubernetes adapters so both keep the port's
"never goes backwards" rule the same way.
"""

from __future__ import annotations

from api.pipelineconfig import PipelineConfig, PipelineConfigStatus
from api.pipelinerun import PipelineRun, PipelineRunStatus
from api.repositoryconnection import RepositoryConnection, RepositoryConnectionStatus
from api.secret import Secret
from ports.resources import AnyStatus, Invalid, Resource

STATUS_TYPES: dict[type[Resource], type[AnyStatus]] = {
    PipelineConfig: PipelineConfigStatus,
    PipelineRun: PipelineRunStatus,
    RepositoryConnection: RepositoryConnectionStatus,
}


def status_checked(kind: type[Resource], status: AnyStatus) -> AnyStatus:
    expected = STATUS_TYPES.get(kind)
    if expected is None or not isinstance(status, expected):
        raise Invalid(f"{kind.__name__} takes no {type(status).__name__}")
    return status


def stale(current: Resource, status: AnyStatus, uid: str | None) -> bool:
    """Whether a status write must be dropped: another object by uid, or behind the stored one."""
    if uid is not None and current.metadata.uid != uid:
        return True
    stored = None if isinstance(current, Secret) else current.status
    return stored is not None and stored.observed_sequence > status.observed_sequence
