"""CustomResourceDefinitions generated from the API Structs (the single source of the schema).

`crd(kind)` builds the apiextensions.k8s.io/v1 object as plain data: a structural schema (no $ref,
every field typed, `nullable` where Optional, descriptions everywhere so `kubectl explain` helps)
with the Structs' defaults, patterns and limits, plus the CEL rules a schema alone cannot say
(api/crd_rules.py). c8s/gen_crds.py writes them to deploy/300-crds; a test fails when stale.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import msgspec
import msgspec.inspect as mi

from api.crd_rules import PRINTER_COLUMNS, RULES
from api.meta import GROUP, VERSION
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection

Schema = dict[str, object]

RESOURCES: dict[str, tuple[type[msgspec.Struct], str]] = {
    "PipelineConfig": (PipelineConfig, "pc"),
    "PipelineRun": (PipelineRun, "pr"),
    "RepositoryConnection": (RepositoryConnection, "rc"),
}

_ENVELOPE: dict[str, Schema] = {
    "apiVersion": {
        "type": "string",
        "description": "Versioned schema of this representation of an object (c8s.dev/v1alpha1).",
    },
    "kind": {"type": "string", "description": "The REST resource this object represents."},
    # The apiserver forbids anything but `type` here (metadata's schema is its own).
    "metadata": {"type": "object"},
}


def plural(kind: str) -> str:
    """The resource name: PipelineRun -> pipelineruns."""
    return kind.lower() + "s"


def crd(kind: str) -> Schema:
    """The CustomResourceDefinition of one c8s kind."""
    cls, short = RESOURCES[kind]
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural(kind)}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural(kind),
                "singular": kind.lower(),
                "shortNames": [short],
                "categories": ["c8s"],
            },
            "scope": "Namespaced",
            "versions": [_version(kind, cls)],
        },
    }


def _version(kind: str, cls: type[msgspec.Struct]) -> Schema:
    return {
        "name": VERSION,
        "served": True,
        "storage": True,
        "subresources": {"status": {}},
        "additionalPrinterColumns": PRINTER_COLUMNS[kind],
        "schema": {"openAPIV3Schema": root_schema(kind, cls)},
    }


def root_schema(kind: str, cls: type[msgspec.Struct]) -> Schema:
    """The openAPIV3Schema of a kind: the Kubernetes envelope, then spec and status."""
    info = cast(mi.StructType, mi.type_info(cls))
    body = {f.encode_name: _field(f, kind) for f in info.fields if f.name in ("spec", "status")}
    schema: Schema = {
        "type": "object",
        "description": _doc(cls),
        "required": ["spec"],
        "properties": {**_ENVELOPE, **body},
    }
    return _with_rules(schema, kind, "")


def _with_rules(schema: Schema, kind: str, path: str) -> Schema:
    """Attach the CEL rules declared for `path`, recursively through properties and items."""
    rules = RULES.get((kind, path))
    if rules:
        schema["x-kubernetes-validations"] = rules
    properties = cast(dict[str, Schema], schema.get("properties", {}))
    for name, sub in properties.items():
        _with_rules(sub, kind, f"{path}.{name}".lstrip("."))
    items = schema.get("items")
    if isinstance(items, dict):
        _with_rules(cast(Schema, items), kind, f"{path}[]")
    return schema


def _doc(cls: type) -> str:
    doc = (cls.__doc__ or "").strip()
    if not doc:
        raise ValueError(f"{cls.__name__} needs a docstring: it is the CRD description")
    return " ".join(doc.split())


def _field(f: mi.Field, where: str) -> Schema:
    schema = _schema(f.type)
    if "description" not in schema:
        inner = f.type.type if isinstance(f.type, mi.Metadata) else f.type
        if isinstance(inner, mi.UnionType):
            inner = next(x for x in inner.types if not isinstance(x, mi.NoneType))
        if not isinstance(inner, mi.StructType):
            raise ValueError(f"{where} needs a description (Meta(description=...)) for kubectl explain")
        schema = _described(schema, _doc(inner.cls))
    default = _default(f)
    if default is not None:
        schema["default"] = default
    return schema


def _described(schema: Schema, text: str) -> Schema:
    """`schema` with `description` right after `type` (where a reader of the YAML looks for it)."""
    rest = {k: v for k, v in schema.items() if k not in ("type", "description")}
    return {"type": schema["type"], "description": text, **rest}


def _default(f: mi.Field) -> object:
    """The field's default as JSON data; None when there is none worth stating (None, [], {})."""
    if f.default is not msgspec.NODEFAULT:
        value = f.default
    elif f.default_factory is not msgspec.NODEFAULT:
        value = f.default_factory()
    else:
        return None
    data = msgspec.to_builtins(value)
    return data if data not in (None, [], {}) else None


def _schema(t: mi.Type) -> Schema:
    """The structural schema of a type (descriptions from Meta; the outermost wins)."""
    if isinstance(t, mi.Metadata):
        schema = _schema(t.type)
        description = (t.extra_json_schema or {}).get("description")
        return _described(schema, str(description)) if description else schema
    if isinstance(t, mi.UnionType):
        inner = [x for x in t.types if not isinstance(x, mi.NoneType)]
        if len(inner) != 1:
            raise ValueError(f"only Optional unions can be a structural schema, not {t}")
        return {**_schema(inner[0]), "nullable": True}
    return _BUILDERS[type(t)](t)


def _struct(t: mi.Type) -> Schema:
    st = cast(mi.StructType, t)
    schema: Schema = {"type": "object", "description": _doc(st.cls)}
    required = [f.encode_name for f in st.fields if f.required]
    if required:
        schema["required"] = required
    schema["properties"] = {f.encode_name: _field(f, f"{st.cls.__name__}.{f.name}") for f in st.fields}
    return schema


def _str(t: mi.Type) -> Schema:
    st = cast(mi.StrType, t)
    return _limits({"type": "string"}, pattern=st.pattern, minLength=st.min_length, maxLength=st.max_length)


def _int(t: mi.Type) -> Schema:
    it = cast(mi.IntType, t)
    return _limits({"type": "integer", "format": "int64"}, minimum=it.ge, maximum=it.le)


def _float(t: mi.Type) -> Schema:
    ft = cast(mi.FloatType, t)
    return _limits({"type": "number"}, minimum=ft.ge, maximum=ft.le)


def _list(t: mi.Type) -> Schema:
    lt = cast(mi.ListType, t)
    schema: Schema = {"type": "array", "items": _schema(lt.item_type)}
    return _limits(schema, minItems=lt.min_length, maxItems=lt.max_length)


def _dict(t: mi.Type) -> Schema:
    dt = cast(mi.DictType, t)
    schema: Schema = {"type": "object", "additionalProperties": _schema(dt.value_type)}
    return _limits(schema, minProperties=dt.min_length, maxProperties=dt.max_length)


def _enum(t: mi.LiteralType) -> Schema:
    values = [str(v) for v in t.values]
    # maxLength lets the CEL cost estimator size comparisons of the value (e.g. on status.phase).
    return {"type": "string", "enum": values, "maxLength": max(len(v) for v in values)}


def _limits(schema: Schema, **limits: object) -> Schema:
    return {**schema, **{k: v for k, v in limits.items() if v is not None}}


_BUILDERS: dict[type, Callable[[mi.Type], Schema]] = {
    mi.StructType: _struct,
    mi.StrType: _str,
    mi.IntType: _int,
    mi.FloatType: _float,
    mi.ListType: _list,
    mi.DictType: _dict,
    mi.BoolType: lambda t: {"type": "boolean"},
    mi.DateTimeType: lambda t: {"type": "string", "format": "date-time"},
    mi.LiteralType: lambda t: _enum(cast(mi.LiteralType, t)),
}
