"""Repository URL normalisation: every way of writing one repository's address gives one key.

A RepositoryConnection names its repository one way (`https://github.com/org/app`) while a payload
carries several (`clone_url`, `ssh_url`, `git@github.com:org/app.git`, ...). Matching compares the
key `host/path`: scheme, user info, port, query, a `.git` suffix and trailing or doubled slashes
are dropped, the host is lower-cased; the path keeps its case (GitHub ignores it, GitLab and a
self-hosted server may not, so folding it could join two different repositories).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: `user@host:path` (scp-like, what `git clone git@github.com:org/app.git` takes): no '/' before
#: the first ':', and, as for git itself, what follows the ':' is a path, never a port.
_SCP = re.compile(r"^(?:[^@/]+@)?(?P<host>[^:/]+):(?P<path>.*)$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def normalise_repo_url(url: str) -> str:
    """The canonical `host/org/repo` key of a repository URL, or "" when it names no repository."""
    text = url.strip()
    host, path = _split(text)
    segments = [s for s in path.split("/") if s]
    if segments:
        segments[-1] = segments[-1].removesuffix(".git")
        segments = [s for s in segments if s]
    host = host.lower().rstrip(".")
    if not host or not segments:
        return ""
    return "/".join([host, *segments])


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
