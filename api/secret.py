"""The v1 Secret manifests c8s accepts next to its own resources (spec/data-model.md, entity 4).

Checked lightly: the shape (keys are valid Secret keys, `stringData` values are strings) and that
every `data` value is valid base64, which is what the apiserver would reject on apply.
"""

from __future__ import annotations

import binascii
from base64 import b64decode
from typing import Annotated

from msgspec import Meta, Struct, field

from api.fielderrors import FieldError, child
from api.meta import ObjectMeta
from api.pipelineconfig import SecretKey


class Secret(Struct, kw_only=True, rename="camel", omit_defaults=True):
    """A Kubernetes Secret (core/v1), as far as c8s reads it."""

    api_version: str = "v1"
    kind: str = "Secret"
    metadata: ObjectMeta = field(default_factory=ObjectMeta)
    type: Annotated[str, Meta(description="Secret type, e.g. Opaque")] = "Opaque"
    data: Annotated[dict[SecretKey, str], Meta(description="Key to base64-encoded value")] = field(
        default_factory=dict
    )
    string_data: Annotated[dict[SecretKey, str], Meta(description="Key to plain-text value")] = field(
        default_factory=dict
    )
    immutable: bool | None = None


def check_secret(secret: Secret) -> list[FieldError]:
    """Errors of a Secret whose shape is right: undecodable base64 in `data`."""
    return [
        FieldError(
            path=child("data", key),
            message="not valid base64: encode the value (base64 -w0) or put the plain text under stringData",
        )
        for key, value in secret.data.items()
        if not _is_base64(value)
    ]


def _is_base64(text: str) -> bool:
    try:
        b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        return False
    return True
