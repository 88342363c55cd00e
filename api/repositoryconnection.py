"""RepositoryConnection: links a git repository to c8s (spec/data-model.md, entity 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from api.meta import API_VERSION, ObjectMeta
from api.pipelineconfig import GitURL

Provider = Literal["github", "gitlab", "bitbucket"]


class RepositoryConnectionSpec(Struct, kw_only=True, rename="camel", omit_defaults=True):
    repository: GitURL
    provider: Annotated[Provider, Meta(description="Version control provider: github, gitlab or bitbucket")]
    webhook_secret_ref: Annotated[
        str | None, Meta(description="Secret holding the webhook signature secret under key webhook-secret")
    ] = None
    auth_secret_ref: Annotated[
        str | None, Meta(description="Secret holding git credentials: username/password or ssh-key")
    ] = None
    pipeline_config_ref: Annotated[
        str | None, Meta(description="PipelineConfig (same namespace) that this repository's events run")
    ] = None


class LastEvent(Struct, kw_only=True, rename="camel", omit_defaults=True):
    type: str
    commit: str | None = None
    timestamp: datetime | None = None


class RepositoryConnectionStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    webhook_url: str | None = None
    webhook_registered: bool | None = None
    last_event: LastEvent | None = None
    observed_sequence: int = 0


class RepositoryConnection(Struct, kw_only=True, rename="camel", omit_defaults=True):
    api_version: str = API_VERSION
    kind: str = "RepositoryConnection"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: RepositoryConnectionSpec
    status: RepositoryConnectionStatus | None = None
