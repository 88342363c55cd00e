"""RepositoryConnection: links a git repository to c8s (spec/data-model.md, entity 3)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from msgspec import Meta, Struct, field

from api.meta import API_VERSION, Name, ObjectMeta
from api.pipelineconfig import GitURL

Provider = Literal["github", "gitlab", "bitbucket"]
ForkPolicy = Literal["WithoutSecrets", "WithSecrets", "Ignore"]


class RepositoryConnectionSpec(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Which repository, which provider, and the Secrets its webhooks and clones use."""

    repository: GitURL
    provider: Annotated[Provider, Meta(description="Version control provider: github, gitlab or bitbucket")]
    webhook_secret_ref: Annotated[
        Name | None, Meta(description="Secret holding the webhook signature secret under key webhook-secret")
    ] = None
    auth_secret_ref: Annotated[
        Name | None, Meta(description="Secret holding git credentials: username/password or ssh-key")
    ] = None
    pipeline_config_ref: Annotated[
        Name | None, Meta(description="PipelineConfig (same namespace) that this repository's events run")
    ] = None
    fork_pull_requests: Annotated[
        ForkPolicy,
        Meta(
            description="Pull requests from forks: run WithoutSecrets (the default), WithSecrets "
            "(trusted forks only: their code sees the config's secrets) or Ignore them"
        ),
    ] = "WithoutSecrets"


class LastEvent(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """The latest webhook event received for the repository."""

    type: Annotated[str, Meta(max_length=255, description="Event type, e.g. push or pull_request")]
    commit: Annotated[
        Annotated[str, Meta(max_length=40)] | None, Meta(description="Commit SHA of the event")
    ] = None
    timestamp: Annotated[datetime | None, Meta(description="When the event was received")] = None


class RepositoryConnectionStatus(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """Webhook registration state and the latest event, written by c8s."""

    webhook_url: Annotated[
        Annotated[str, Meta(max_length=2048)] | None,
        Meta(description="Webhook endpoint URL to configure in the provider"),
    ] = field(default=None, name="webhookURL")  # spelt as in the spec, not webhookUrl
    webhook_registered: Annotated[
        bool | None, Meta(description="Whether the webhook is registered with the provider")
    ] = None
    last_event: Annotated[LastEvent | None, Meta(description="The latest webhook event received")] = None
    observed_sequence: Annotated[
        int, Meta(ge=0, description="Stream sequence of the last event folded into this status")
    ] = 0


class RepositoryConnection(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A git repository connected to c8s: webhooks from it start PipelineRuns."""

    api_version: str = API_VERSION
    kind: str = "RepositoryConnection"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    spec: RepositoryConnectionSpec
    status: RepositoryConnectionStatus | None = None
