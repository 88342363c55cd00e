"""How c8s resources are laid out in NATS KV, and the metadata the local store owns.

One bucket per kind; key `<namespace>.<name>` with each part as a subject token (names may hold
'.', mapped to '_' which Kubernetes names never contain, so the key is reversible); the value is
the whole object as JSON. `metadata.resourceVersion` is never stored: it is the KV revision of the
entry, set when an object is read or written, so it always says which write a reader saw.
uid and creationTimestamp are set once by create and never change; generation starts at 1 and grows
when the spec (a Secret's type/data) changes, as the apiserver does.
"""

from __future__ import annotations

import secrets
import uuid
from base64 import b64encode
from datetime import UTC, datetime
from typing import Generic

import msgspec
from msgspec.structs import replace

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret
from events.subjects import token, untoken
from ports.resources import Invalid, R, Resource

BUCKETS: dict[type[Resource], str] = {
    PipelineConfig: "c8s_pipelineconfigs",
    PipelineRun: "c8s_pipelineruns",
    RepositoryConnection: "c8s_repositoryconnections",
    Secret: "c8s_secrets",
}
#: The apiserver's alphabet for generateName suffixes (no vowels, no look-alike characters).
_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def key_of(namespace: str, name: str) -> str:
    return f"{token(namespace)}.{token(name)}"


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.partition(".")
    return untoken(namespace), untoken(name)


def key_pattern(namespace: str | None) -> str:
    """The KV watch pattern for every key of one namespace, or of all."""
    return ">" if namespace is None else f"{token(namespace)}.*"


class Codec(Generic[R]):
    """JSON of one kind, with a Decoder built once; resourceVersion comes from the KV revision."""

    def __init__(self, kind: type[R]) -> None:
        self.kind: type[R] = kind
        self._decoder: msgspec.json.Decoder[R] = msgspec.json.Decoder(kind)

    def decode(self, value: bytes | None, revision: int | None, key: str) -> R:
        try:
            obj: R = self._decoder.decode(value or b"")
        except msgspec.DecodeError as e:
            raise Invalid(f"stored {self.kind.__name__} {key} does not decode: {e}") from e
        return with_version(obj, revision)

    def encode(self, obj: R) -> bytes:
        return msgspec.json.encode(replace(obj, metadata=replace(obj.metadata, resource_version=None)))


def with_version(obj: R, revision: int | None) -> R:
    version = None if revision is None else str(revision)
    return replace(obj, metadata=replace(obj.metadata, resource_version=version))


def generated_name(obj: R) -> R:
    """The object with a name: its own, or generateName plus a random suffix."""
    meta = obj.metadata
    if meta.name:
        return obj
    if not meta.generate_name:
        raise Invalid(f"{obj.kind} needs metadata.name or metadata.generateName")
    suffix = "".join(secrets.choice(_SUFFIX_ALPHABET) for _ in range(5))
    return replace(obj, metadata=replace(meta, name=meta.generate_name + suffix))


def new_object(obj: R, now: datetime | None = None) -> R:
    """What create stores: fresh uid, creationTimestamp (whole seconds, UTC), generation 1, no status."""
    stamp = (now or datetime.now(UTC)).replace(microsecond=0)
    meta = replace(obj.metadata, uid=str(uuid.uuid4()), creation_timestamp=stamp, generation=1)
    return normalised(without_status(replace(obj, metadata=meta)))


def merged(stored: R, desired: R) -> R:
    """What apply stores over `stored`: desired content and labels, stored identity and status.
    Returns `stored` itself when nothing changes, so a repeated apply writes nothing."""
    meta = replace(
        stored.metadata,
        labels=desired.metadata.labels,
        annotations=desired.metadata.annotations,
        owner_references=desired.metadata.owner_references,
    )
    new = with_status_of(normalised(replace(desired, metadata=meta)), stored)
    if content(new) != content(stored):
        new = replace(new, metadata=replace(meta, generation=(stored.metadata.generation or 0) + 1))
    return stored if new == stored else new


def content(obj: Resource) -> object:
    """The part whose changes bump generation: spec, or a Secret's payload."""
    if isinstance(obj, Secret):
        return (obj.type, obj.data, obj.string_data, obj.immutable)
    return obj.spec


def without_status(obj: R) -> R:
    return obj if isinstance(obj, Secret) else replace(obj, status=None)


def with_status_of(obj: R, source: R) -> R:
    if isinstance(obj, Secret) or isinstance(source, Secret):
        return obj
    return replace(obj, status=source.status)


def normalised(obj: R) -> R:
    """A Secret's stringData folded into data (base64), as the apiserver stores it."""
    if not isinstance(obj, Secret) or not obj.string_data:
        return obj
    encoded = {k: b64encode(v.encode()).decode("ascii") for k, v in obj.string_data.items()}
    return replace(obj, data={**obj.data, **encoded}, string_data={})
