"""Kubernetes object metadata, the subset c8s reads and writes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from msgspec import Meta, Struct, field

GROUP = "c8s.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"

#: A DNS-1123 subdomain, the rule for most Kubernetes object names.
Name = Annotated[
    str,
    Meta(
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
        max_length=253,
        description="Object name (DNS-1123 subdomain)",
        extra={"expected": "a DNS-1123 name: lower-case letters, digits, '-' and '.', e.g. my-app-ci"},
    ),
]


class OwnerReference(Struct, kw_only=True, rename="camel", omit_defaults=True):
    api_version: str
    kind: str
    name: str
    uid: str
    controller: bool | None = None
    block_owner_deletion: bool | None = None


class ObjectMeta(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """metadata: unknown keys are ignored (Kubernetes adds many)."""

    name: str = ""
    generate_name: str | None = None
    namespace: str = "default"
    uid: str = ""
    resource_version: str | None = None
    generation: int | None = None
    creation_timestamp: datetime | None = None
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)
    owner_references: list[OwnerReference] = field(default_factory=list)
