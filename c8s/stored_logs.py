"""Reading a stored step log back by the logURL a run's status holds (`c8s logs`, the demo's
progress), trusting only the configured object store.

A logURL comes from a status, which is a projection of events: a URL there is data, not an
address to fetch. The reader is bound to the object store c8s writes to (`C8S_LOG_STORE`, printed
by `c8s dev up` among the CLI's export lines) and to the run's own prefix
`<store>/<namespace>/<run>/` (where the log-shipper writes); any other URL — another scheme, host,
bucket, directory, another run's log, a `..` — is refused without being opened.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.object_store import FsspecObjectStore
from c8s.failures import CliError

LOG_STORE_VARIABLE = "C8S_LOG_STORE"


class UntrustedLogURL(Exception):
    """A logURL outside the configured store or the run's prefix: never read."""


class StoredLogs:
    """The stored logs of one run: `await StoredLogs(base, ns, run).read(url)`."""

    def __init__(self, base: str, namespace: str, run: str) -> None:
        self._base = base.rstrip("/")
        self._prefix = f"{self._base}/{namespace}/{run}/"
        self._store: FsspecObjectStore | None = None

    async def read(self, url: str) -> bytes:
        if not url.startswith(self._prefix) or "/../" in url[len(self._base) :]:
            raise UntrustedLogURL(f"{url} is not under {self._prefix}")
        if self._store is None:
            self._store = FsspecObjectStore(self._base)
        return await self._store.read(url)


def log_store(env: Mapping[str, str]) -> str:
    """The object store's base URL the CLI trusts; a CliError saying how to set it."""
    base = env.get(LOG_STORE_VARIABLE, "")
    if not base:
        raise CliError(
            f"${LOG_STORE_VARIABLE} is not set: stored logs are read only from c8s's object store "
            "(set it to the export line `c8s dev up` prints, or your s3://bucket/prefix)"
        )
    return base
