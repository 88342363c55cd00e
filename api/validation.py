"""Validation of manifests: a parsed mapping in, a typed object and every error out.

`validate_manifest` dispatches on apiVersion/kind, checks the shape against the Structs
(api/manifests.py: required, unknown fields, types, patterns, enums, limits), metadata, and the
cross-field rules of each kind (api/pipeline_checks.py, api/secret.py). All errors are collected;
the typed object is returned only when there are none. Rules that need the cluster (referenced
objects exist, quotas) belong to the admission webhook, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

import msgspec

from api.fielderrors import FieldError, child, describe, suggestion
from api.manifests import check_struct, decode
from api.meta import API_VERSION, ObjectMeta
from api.pipeline_checks import check_pipeline_spec
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from api.secret import Secret, check_secret

__all__ = ["FieldError", "Resource", "Validated", "validate", "validate_manifest"]

Resource = PipelineConfig | PipelineRun | RepositoryConnection | Secret
R = TypeVar("R", bound=Resource)

_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class Validated(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome for one manifest: what it is, and the object if valid, else its errors."""

    kind: str
    name: str
    obj: Resource | None
    errors: list[FieldError]


def _pipeline_config(obj: PipelineConfig) -> list[FieldError]:
    return check_pipeline_spec(obj.spec, "spec")


def _no_rules(obj: object) -> list[FieldError]:
    return []


#: kind -> (apiVersion, Struct, cross-field rules)
KINDS: dict[str, tuple[str, type[Resource], Callable[..., list[FieldError]]]] = {
    "PipelineConfig": (API_VERSION, PipelineConfig, _pipeline_config),
    "PipelineRun": (API_VERSION, PipelineRun, _no_rules),
    "RepositoryConnection": (API_VERSION, RepositoryConnection, _no_rules),
    "Secret": ("v1", Secret, check_secret),
}


def validate(
    data: object, cls: type[R], rules: Callable[[R], list[FieldError]]
) -> tuple[R | None, list[FieldError]]:
    """`data` as a `cls`: shape and metadata errors, then the cross-field `rules` (best effort)."""
    best, errors = check_struct(data, cls)
    errors += _check_metadata(best.metadata)
    errors += rules(best)
    if errors:
        return None, errors
    return decode(data, cls)


def validate_manifest(data: object) -> Validated:
    """Validate any manifest c8s knows, by its apiVersion and kind."""
    if not isinstance(data, dict):
        message = f"expected a Kubernetes object (apiVersion, kind, metadata, spec), got {_what(data)}"
        return Validated(kind="?", name="?", obj=None, errors=[FieldError(path="", message=message)])
    kind, name = str(data.get("kind") or "?"), _name_of(data)
    errors = _check_type(data)
    if errors:
        return Validated(kind=kind, name=name, obj=None, errors=errors)
    _, cls, rules = KINDS[kind]
    obj, errors = validate(data, cls, rules)
    return Validated(kind=kind, name=name, obj=obj, errors=errors)


def _what(data: object) -> str:
    return "an empty document" if data is None else f"a {type(data).__name__}"


def _name_of(data: dict[object, object]) -> str:
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        return str(metadata.get("name") or metadata.get("generateName") or "?")
    return "?"


def _check_type(data: dict[object, object]) -> list[FieldError]:
    kind, api_version = data.get("kind"), data.get("apiVersion")
    known = ", ".join(KINDS)
    if kind is None:
        return [FieldError(path="kind", message=f"required field is missing: add kind (one of {known})")]
    if not isinstance(kind, str):
        return [FieldError(path="kind", message=f"expected a string (one of {known}), got {describe(kind)}")]
    if kind not in KINDS:
        hint = suggestion(str(kind), KINDS) or f"; c8s validates {known}"
        return [FieldError(path="kind", message=f'unknown kind "{kind}"{hint}')]
    want = KINDS[str(kind)][0]
    if api_version != want:
        got = "is missing" if api_version is None else f'"{api_version}" does not serve kind {kind}'
        return [FieldError(path="apiVersion", message=f"apiVersion {got}: use apiVersion: {want}")]
    return []


def _check_metadata(metadata: ObjectMeta) -> list[FieldError]:
    errors = []
    if not metadata.name and not metadata.generate_name:
        message = "required field is missing: add metadata.name (or metadata.generateName)"
        errors.append(FieldError(path=child("metadata", "name"), message=message))
    elif metadata.name and (len(metadata.name) > 253 or not _NAME.match(metadata.name)):
        message = f'invalid name "{metadata.name}": use lower-case letters, digits, "-" and "." (my-app-ci)'
        errors.append(FieldError(path=child("metadata", "name"), message=message))
    if len(metadata.namespace) > 63 or not _NAMESPACE.match(metadata.namespace):
        message = f'invalid namespace "{metadata.namespace}": use lower-case letters, digits and "-"'
        errors.append(FieldError(path=child("metadata", "namespace"), message=message))
    return errors
