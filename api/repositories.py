"""Repository URLs: one canonical key per repository, and its parts as each provider names them.

A RepositoryConnection names its repository one way (`https://github.com/org/app`) while a payload
carries several (`clone_url`, `ssh_url`, `git@github.com:org/app.git`, ...). Matching compares the
key `host/path`: scheme, user info, port, query, a `.git` suffix and trailing or doubled slashes
are dropped, and host and path are lower-cased: GitHub, GitLab and Bitbucket all treat owner and
repository names case-insensitively (`Woodpecker-CI/Woodpecker` is `woodpecker-ci/woodpecker`),
and a delivery spells them as the provider stores them, not as the connection was typed.

`repository_parts` splits the same key into the host and the path segments, from which the
providers' APIs name a repository: GitHub `owner/repo`, GitLab the whole (nested) project path,
Bitbucket `workspace/repo_slug`. Pure: used by the webhook receiver and the notifier alike.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from msgspec import Struct

#: `user@host:path` (scp-like, what `git clone git@github.com:org/app.git` takes): no '/' before
#: the first ':', and, as for git itself, what follows the ':' is a path, never a port.
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.*)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class RepositoryParts(Struct, frozen=True, kw_only=True):
    """A repository's host (lower case) and path segments (case kept for the APIs, `.git` dropped)."""

    host: str
    segments: tuple[str, ...]

    @property
    def path(self) -> str:
        return "/".join(self.segments)


def normalise_repo_url(url: str) -> str:
    """The canonical `host/org/repo` key of a repository URL, or "" when it names no repository."""
    parts = repository_parts(url)
    return "/".join([parts.host, *parts.segments]).lower() if parts is not None else ""


def repository_parts(url: str) -> RepositoryParts | None:
    """The host and path segments of a repository URL, or None when it names no repository."""
    host, path = _split(url.strip())
    segments = [s for s in path.split("/") if s]
    if segments:
        segments[-1] = segments[-1].removesuffix(".git")
        segments = [s for s in segments if s]
    host = host.lower().rstrip(".")
    if not host or not segments:
        return None
    return RepositoryParts(host=host, segments=tuple(segments))


def _split(text: str) -> tuple[str, str]:
    """(host, path) of a URL with a scheme, or of the scp-like form."""
    if _SCHEME.match(text):
        try:
            parts = urlsplit(text)
            return parts.hostname or "", parts.path
        except ValueError:  # an invalid port or IPv6 literal
            return "", ""
    scp = _SCP.match(text)
    if scp is None:
        return "", ""
    return scp["host"], scp["path"]
