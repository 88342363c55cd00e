"""The in-memory index of RepositoryConnections by normalised repository URL (pure).

The service keeps one, fed by the store's watch (ADDED and MODIFIED are upserts, DELETED removes),
so finding the connections of a delivery costs no store round trip. Several connections, in any
namespaces, may name one repository: a lookup returns all of them whose provider matches, in
namespace/name order.
"""

from __future__ import annotations

from collections.abc import Iterable

from api.repositoryconnection import RepositoryConnection
from ports.resources import WatchEvent
from services.webhook.providers.urls import normalise_repo_url

Ref = tuple[str, str]


class ConnectionIndex:
    def __init__(self, connections: Iterable[RepositoryConnection] = ()) -> None:
        self._by_ref: dict[Ref, RepositoryConnection] = {}
        self._by_key: dict[str, set[Ref]] = {}
        for connection in connections:
            self.upsert(connection)

    def __len__(self) -> int:
        return len(self._by_ref)

    def upsert(self, connection: RepositoryConnection) -> None:
        self.remove(connection)
        ref = _ref(connection)
        self._by_ref[ref] = connection
        key = normalise_repo_url(connection.spec.repository)
        if key:
            self._by_key.setdefault(key, set()).add(ref)

    def remove(self, connection: RepositoryConnection) -> None:
        old = self._by_ref.pop(_ref(connection), None)
        if old is None:
            return
        key = normalise_repo_url(old.spec.repository)
        refs = self._by_key.get(key, set())
        refs.discard(_ref(old))
        if not refs:
            self._by_key.pop(key, None)

    def apply(self, event: WatchEvent) -> None:
        if not isinstance(event.object, RepositoryConnection):
            return
        if event.type == "DELETED":
            self.remove(event.object)
        else:
            self.upsert(event.object)

    def lookup(self, keys: Iterable[str]) -> list[RepositoryConnection]:
        """Every connection whose repository has one of the normalised `keys`, any provider."""
        refs = {ref for key in keys for ref in self._by_key.get(key, ())}
        return [self._by_ref[ref] for ref in sorted(refs)]


def _ref(connection: RepositoryConnection) -> Ref:
    return connection.metadata.namespace, connection.metadata.name
