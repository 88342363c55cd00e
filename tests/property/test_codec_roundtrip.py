"""The event codec (events/codec.py) under generated input.

Covers: every event type of codec.catalog() round-trips encode -> decode to an equal event (and
the JSON validates against the committed catalog schema); arbitrary bytes and arbitrary JSON never
raise anything but UndecodableEvent; a wrong value in any field is reported with that field's
path; unknown extra fields are ignored.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.codec import AnyEvent, UndecodableEvent, catalog, decode, encode
from events.schema import catalog_schema
from tests.property.msgspec_strategies import for_type

jsonschema = pytest.importorskip("jsonschema")

EVENT_TYPES = catalog()
any_event: st.SearchStrategy[AnyEvent] = st.one_of([for_type(cls) for cls in EVENT_TYPES])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
VALIDATOR = jsonschema.Draft202012Validator(catalog_schema())


def _decode_or_undecodable(data: bytes) -> AnyEvent | UndecodableEvent:
    try:
        return decode(data)
    except UndecodableEvent as e:
        return e


def _as_dict(event: AnyEvent) -> dict[str, Any]:
    return msgspec.json.decode(encode(event))  # type: ignore[no-any-return]


@pytest.mark.parametrize("cls", EVENT_TYPES, ids=lambda c: c.__struct_config__.tag)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_every_event_round_trips(cls: type[AnyEvent], data: st.DataObject) -> None:
    """decode(encode(e)) == e for every event type, and its JSON matches the catalog schema."""
    event = data.draw(for_type(cls))
    wire = encode(event)
    assert decode(wire) == event
    VALIDATOR.validate(json.loads(wire))


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_undecodable(data: bytes) -> None:
    """Arbitrary bytes decode to an event or raise UndecodableEvent, never anything else."""
    _decode_or_undecodable(data)


@given(json_values)
def test_random_json_only_raises_undecodable(value: object) -> None:
    """Arbitrary JSON documents are refused with UndecodableEvent."""
    assert isinstance(_decode_or_undecodable(json.dumps(value).encode()), UndecodableEvent)


@settings(deadline=None)
@given(any_event, st.data(), json_values)
def test_a_bad_field_is_named(event: AnyEvent, data: st.DataObject, value: object) -> None:
    """Replacing a field by any JSON value decodes, or fails with an error naming that field."""
    body = _as_dict(event)
    name = data.draw(st.sampled_from(sorted(k for k in body if k != "type")))
    result = _decode_or_undecodable(json.dumps({**body, name: value}).encode())
    if isinstance(result, UndecodableEvent):
        assert f"`$.{name}" in str(result)


@settings(deadline=None)
@given(any_event, st.dictionaries(st.text(min_size=1, max_size=10), json_values, min_size=1, max_size=4))
def test_unknown_fields_are_ignored(event: AnyEvent, extra: dict[str, object]) -> None:
    """Fields a producer added later are ignored: the event decodes as if they were absent."""
    body = _as_dict(event)
    unknown = {k: v for k, v in extra.items() if k not in body and k not in event.__struct_fields__}
    assert decode(json.dumps({**unknown, **body}).encode()) == event
