"""Property tests: the validator never crashes on bad input (api/validation.py).

Covers: any JSON/YAML-like document, and any valid example with one field replaced by arbitrary
data, yields a result (never an exception) whose errors each name a field and say something; a
result without errors always carries the typed object, and one with errors never does.
"""

from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from api.validation import validate_manifest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DOCS = [d for p in sorted(EXAMPLES.glob("*.yaml")) for d in yaml.safe_load_all(p.read_text())]

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


def paths(node: object, prefix: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    """Every path to a value inside a document."""
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def check(document: object) -> None:
    result = validate_manifest(document)
    assert all(isinstance(e.path, str) and e.message for e in result.errors)
    assert (result.obj is None) is bool(result.errors)


@given(
    values | st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "status"]), values)
)
def test_arbitrary_documents_never_crash(document: object) -> None:
    """Random documents give errors, not exceptions."""
    check(document)


@given(st.sampled_from(DOCS), st.data(), values)
def test_mutated_examples_never_crash(
    document: dict[str, object], data: st.DataObject, value: object
) -> None:
    """An example with any one value replaced by random data gives a result, not an exception."""
    doc = copy.deepcopy(document)
    path = data.draw(st.sampled_from(paths(doc)[1:]))
    target: object = doc
    for key in path[:-1]:
        target = target[key]  # type: ignore[index]
    target[path[-1]] = value  # type: ignore[index]
    check(doc)
