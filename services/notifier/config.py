"""Notifier configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings
from ports.http import RetryPolicy

Url = Annotated[str, Meta(pattern=r"^(https?://\S+)?$")]


class NotifierSettings(CommonSettings, frozen=True, kw_only=True):
    #: Where users reach c8s: run links are `<public_url>/runs/<ns>/<run>`, webhooks are
    #: registered at `<public_url>/webhooks/<provider>`. Empty: no links, no registration.
    public_url: Url = "http://127.0.0.1:8080"
    #: Where the dashboard is, when not at public_url: run links go there (`c8s dev up` sets it).
    dashboard_url: Url = ""
    #: API roots replacing the public ones (and those derived from a self-hosted host).
    github_api_url: Url = ""
    gitlab_api_url: Url = ""
    bitbucket_api_url: Url = ""
    #: Tries per request on 5xx/429/transport failures, and the longest wait between two;
    #: a server asking for more is retried later through the bus (nak with its delay).
    http_attempts: Annotated[int, Meta(ge=1, le=20)] = 5
    http_max_delay_seconds: Annotated[float, Meta(ge=0)] = 30.0
    http_timeout_seconds: Annotated[float, Meta(gt=0)] = 10.0
    #: Run events handled at once (each run's statuses stay in order, see service.py).
    concurrency: Annotated[int, Meta(ge=1, le=64)] = 4
    register_webhooks: bool = True
    #: How often every connection's webhook registration is checked again.
    resync_seconds: Annotated[float, Meta(gt=0)] = 300.0

    @property
    def runs_url(self) -> str:
        """The base of run links: the dashboard's URL, else the public one."""
        return self.dashboard_url or self.public_url

    @property
    def api_overrides(self) -> dict[str, str]:
        return {
            "github": self.github_api_url,
            "gitlab": self.gitlab_api_url,
            "bitbucket": self.bitbucket_api_url,
        }

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.http_attempts,
            max_delay=self.http_max_delay_seconds,
            timeout=self.http_timeout_seconds,
        )
