"""Structs to apiserver bodies and back, for the Kubernetes resource store.

Objects cross the edge through msgspec (to_builtins / convert): the Structs' camelCase JSON is the
Kubernetes shape, so no field is mapped by hand. Metadata the apiserver owns (uid,
resourceVersion, creationTimestamp, generation) is dropped from create bodies; apply replaces
spec (a Secret's payload), labels, annotations and ownerReferences on the stored body, keeping every
other stored field (finalizers, managedFields, status) as the apiserver sent it. A status write is a
JSON merge patch that turns the stored status into exactly the new one (removed keys set to null),
guarded by the resourceVersion the staleness check was made against.
"""

from __future__ import annotations

from typing import Any

import msgspec
from msgspec.structs import replace

from api.secret import Secret
from ports.resources import AnyStatus, Invalid, R, Resource

Body = dict[str, Any]
#: The parts of a Secret that apply replaces (its "spec").
SECRET_CONTENT = ("type", "data", "stringData", "immutable")


def decoded(kind: type[R], body: Body) -> R:
    """The Struct of an apiserver body; Invalid when it does not fit the kind's schema."""
    try:
        return msgspec.convert(body, kind)
    except msgspec.ValidationError as e:
        name = body.get("metadata", {}).get("name", "?")
        raise Invalid(f"{kind.__name__} {name} from the apiserver does not decode: {e}") from e


def encoded(obj: Resource) -> Body:
    """The JSON body of a Struct, apiVersion and kind always present (defaults are omitted)."""
    body: Body = msgspec.to_builtins(obj)
    body["apiVersion"], body["kind"] = obj.api_version, obj.kind
    return body


def create_body(obj: Resource) -> Body:
    """What create sends: the object without status and without apiserver-owned metadata."""
    meta = replace(obj.metadata, uid="", resource_version=None, creation_timestamp=None, generation=None)
    body = encoded(replace(obj, metadata=meta))
    body.pop("status", None)
    return body


def replaced(stored: Body, desired: Resource) -> Body:
    """The stored body with desired's content, labels, annotations and ownerReferences (for PUT,
    carrying the stored resourceVersion so a concurrent change makes it a Conflict)."""
    want = encoded(desired)
    body = dict(stored)
    if isinstance(desired, Secret):
        for key in SECRET_CONTENT:
            body.pop(key, None)
            if key in want:
                body[key] = want[key]
    else:
        body["spec"] = want["spec"]
    meta = dict(stored["metadata"])
    wanted_meta = want.get("metadata", {})
    for key in ("labels", "annotations", "ownerReferences"):
        meta[key] = wanted_meta.get(key) or None
    body["metadata"] = {k: v for k, v in meta.items() if v is not None}
    return body


def status_patch(stored: Body, status: AnyStatus) -> Body:
    """A merge patch making the stored status exactly `status`, valid only at the stored version."""
    version = stored["metadata"]["resourceVersion"]
    return {
        "metadata": {"resourceVersion": version},
        "status": merge_patch(stored.get("status") or {}, msgspec.to_builtins(status)),
    }


def merge_patch(old: Body, new: Body) -> Body:
    """The RFC 7386 merge patch taking `old` to `new` (keys absent from `new` become null)."""
    patch: Body = {key: None for key in old if key not in new}
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, dict) and isinstance(before, dict):
            inner = merge_patch(before, value)
            if inner:
                patch[key] = inner
        elif value != before:
            patch[key] = value
    return patch
