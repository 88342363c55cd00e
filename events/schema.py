"""The JSON Schema of the whole event catalog, for subscribers outside this code base.

Pure: built from the catalog's Structs (msgspec.json.schema over the union of every event, whose
`type` field is the discriminator). The generated file `events/catalog.schema.json` is committed;
a unit test fails when it is stale. Regenerate it with:

    python -m events.schema > events/catalog.schema.json
"""

from __future__ import annotations

import json
from typing import Any

import msgspec

from events.codec import AnyEvent

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
TITLE = "c8s event catalog"
DESCRIPTION = (
    "Every event c8s publishes on NATS JetStream (streams C8S_RUNS, subjects c8s.run.<namespace>.<run>, "
    "and C8S_WEBHOOKS, subjects c8s.webhook.<provider>.<namespace>.<connection>). One JSON object per "
    "message; `type` tells which event it is (also in the `ce-type` header). Schemas only grow: new "
    "fields have defaults, so readers must ignore fields they do not know."
)


def catalog_schema() -> dict[str, Any]:
    schema = _one_line_descriptions(msgspec.json.schema(AnyEvent))
    return {"$schema": SCHEMA_DIALECT, "title": TITLE, "description": DESCRIPTION, **schema}


def _one_line_descriptions(node: Any) -> Any:
    """Descriptions folded to one line: msgspec versions render docstring indentation differently,
    and the committed file must not change with the library's formatting."""
    if isinstance(node, dict):
        return {
            k: " ".join(v.split()) if k == "description" and isinstance(v, str) else _one_line_descriptions(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_one_line_descriptions(v) for v in node]
    return node


def render() -> str:
    """The schema as committed: stable key order, two-space indent, trailing newline."""
    return json.dumps(catalog_schema(), indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(render(), end="")
