"""The git providers' REST APIs as pure request builders, and where each API lives.

`api_base(provider, host, overrides)`: an override (C8S_GITHUB_API_URL, C8S_GITLAB_API_URL,
C8S_BITBUCKET_API_URL) wins; otherwise the public API for the public host, or the self-hosted
server's API root derived from the repository's host.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.notifier.providers.bitbucket import BitbucketApi
from services.notifier.providers.github import GitHubApi
from services.notifier.providers.gitlab import GitLabApi
from services.notifier.providers.model import Credentials, HookSpec, ProviderApi

PROVIDERS: dict[str, ProviderApi] = {
    "github": GitHubApi(),
    "gitlab": GitLabApi(),
    "bitbucket": BitbucketApi(),
}


def api_base(provider: ProviderApi, host: str, overrides: Mapping[str, str]) -> str:
    override = overrides.get(provider.name, "")
    return (override or provider.api_base(host)).rstrip("/")


__all__ = ["PROVIDERS", "Credentials", "HookSpec", "ProviderApi", "api_base"]
