"""The committed JSON Schema of the event catalog (events/catalog.schema.json).

Covers: the committed file is exactly what `python -m events.schema` generates (stale -> fail,
with the command to fix it); every catalog event has a definition and a discriminator entry.
"""

from __future__ import annotations

import json
from pathlib import Path

from events.codec import catalog
from events.schema import catalog_schema, render

COMMITTED = Path(__file__).resolve().parents[2] / "events" / "catalog.schema.json"


def test_committed_schema_is_up_to_date() -> None:
    """The committed schema equals the generated one."""
    assert COMMITTED.read_text() == render(), (
        "events/catalog.schema.json is stale: run `python -m events.schema > events/catalog.schema.json`"
    )


def test_schema_covers_every_event_type() -> None:
    """Every event of the catalog has a definition, reachable through its `type` tag."""
    schema = catalog_schema()
    mapping = schema["discriminator"]["mapping"]
    for cls in catalog():
        tag = cls.__struct_config__.tag
        assert mapping[tag] == f"#/$defs/{cls.__name__}"
        assert schema["$defs"][cls.__name__]["properties"]["type"] == {"enum": [tag]}


def test_schema_file_is_valid_json_with_a_title() -> None:
    """The file parses as JSON and names its dialect and subject."""
    data = json.loads(COMMITTED.read_text())
    assert data["$schema"].startswith("https://json-schema.org/")
    assert data["title"] == "c8s event catalog"
