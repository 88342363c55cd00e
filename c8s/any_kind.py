"""Resource-store calls for an object or kind known only as "one of the c8s kinds".

The port's type variable is constrained (each call is about one kind), so mypy refuses a union of
kinds even though every member is allowed; these wrappers make that one, checked, exception.
"""

from __future__ import annotations

from ports.resources import Resource, ResourceStore


async def get(store: ResourceStore, kind: type[Resource], namespace: str, name: str) -> Resource:
    obj: Resource = await store.get(kind, namespace, name)  # type: ignore[type-var]
    return obj


async def list_of(store: ResourceStore, kind: type[Resource], namespace: str | None) -> list[Resource]:
    objs: list[Resource] = await store.list(kind, namespace)  # type: ignore[type-var]
    return objs


async def apply(store: ResourceStore, obj: Resource) -> Resource:
    applied: Resource = await store.apply(obj)  # type: ignore[type-var]
    return applied


async def create(store: ResourceStore, obj: Resource) -> Resource:
    created: Resource = await store.create(obj)  # type: ignore[type-var]
    return created
