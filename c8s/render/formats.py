"""Objects as kubectl prints them with `-o json` / `-o yaml`: the Kubernetes shape (apiVersion, kind,
metadata, spec, status; camelCase, as the Structs encode), one object for a name, else a v1 List.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
import yaml

from ports.resources import Resource


def kube_list(objs: Sequence[Resource]) -> dict[str, object]:
    """kubectl's List envelope around the objects' builtin (JSON-ready) forms."""
    return {
        "apiVersion": "v1",
        "kind": "List",
        "items": [builtin(o) for o in objs],
        "metadata": {"resourceVersion": ""},
    }


def builtin(obj: Resource) -> object:
    """The object as plain dicts/lists/strings, exactly as its JSON encodes (timestamps as RFC 3339)."""
    return msgspec.json.decode(msgspec.json.encode(obj))


def to_json(document: object) -> str:
    """Indented by four spaces, as kubectl does."""
    return msgspec.json.format(msgspec.json.encode(document), indent=4).decode() + "\n"


def to_yaml(document: object) -> str:
    return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
