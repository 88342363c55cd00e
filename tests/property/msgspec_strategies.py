"""Hypothesis strategies for any msgspec type, derived from msgspec.inspect.

Built from the same type information the decoder validates against (patterns, lengths, bounds,
literals, unions, nested Structs), so every generated value is one the codec accepts, and a new
event or field is covered without touching the tests. Sizes are kept small for speed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, timedelta, timezone
from typing import Any

import msgspec.inspect as mi
from hypothesis import strategies as st

_MAX_ITEMS = 3
_MAX_TEXT = 20
_INT64 = 2**63
_ZONES = st.sampled_from(
    [None, UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-9, minutes=-30))]
)


def for_type(t: Any) -> st.SearchStrategy[Any]:
    """A strategy for values of msgspec type `t` (a Python type or a msgspec.inspect.Type)."""
    info = t if isinstance(t, mi.Type) else mi.type_info(t)
    builder: Callable[[Any], st.SearchStrategy[Any]] = _BUILDERS[type(info)]
    return builder(info)


def _struct(t: mi.StructType) -> st.SearchStrategy[Any]:
    required = {f.name: _field(f) for f in t.fields if f.required}
    optional = {f.name: _field(f) for f in t.fields if not f.required}
    return st.fixed_dictionaries(required, optional=optional).map(lambda kw: t.cls(**kw))


def _field(f: mi.Field) -> st.SearchStrategy[Any]:
    return st.deferred(lambda: for_type(f.type))


def _str(t: mi.StrType) -> st.SearchStrategy[str]:
    lo, hi = t.min_length or 0, t.max_length
    if t.pattern is not None:
        return st.from_regex(t.pattern).filter(lambda s: lo <= len(s) <= (hi if hi is not None else len(s)))
    return st.text(min_size=lo, max_size=min(hi if hi is not None else _MAX_TEXT, max(lo, _MAX_TEXT)))


def _int(t: mi.IntType) -> st.SearchStrategy[int]:
    lo = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else -_INT64)
    hi = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else _INT64 - 1)
    return st.integers(lo, hi)


def _float(t: mi.FloatType) -> st.SearchStrategy[float]:
    lo = t.ge if t.ge is not None else t.gt
    hi = t.le if t.le is not None else t.lt
    return st.floats(
        lo,
        hi,
        exclude_min=t.gt is not None,
        exclude_max=t.lt is not None,
        allow_nan=False,
        allow_infinity=False,
    )


def _list(t: mi.ListType) -> st.SearchStrategy[list[Any]]:
    lo = t.min_length or 0
    hi = min(t.max_length if t.max_length is not None else _MAX_ITEMS, max(lo, _MAX_ITEMS))
    return st.lists(for_type(t.item_type), min_size=lo, max_size=hi)


def _dict(t: mi.DictType) -> st.SearchStrategy[dict[Any, Any]]:
    lo = t.min_length or 0
    hi = min(t.max_length if t.max_length is not None else _MAX_ITEMS, max(lo, _MAX_ITEMS))
    return st.dictionaries(for_type(t.key_type), for_type(t.value_type), min_size=lo, max_size=hi)


def _datetime(t: mi.DateTimeType) -> st.SearchStrategy[Any]:
    if t.tz is False:
        return st.datetimes()
    return st.datetimes(timezones=_ZONES.filter(lambda z: z is not None) if t.tz else _ZONES)


_BUILDERS: dict[type[mi.Type], Any] = {
    mi.StructType: _struct,
    mi.StrType: _str,
    mi.IntType: _int,
    mi.FloatType: _float,
    mi.ListType: _list,
    mi.DictType: _dict,
    mi.Metadata: lambda t: for_type(t.type),
    mi.UnionType: lambda t: st.one_of([for_type(u) for u in t.types]),
    mi.LiteralType: lambda t: st.sampled_from(t.values),
    mi.NoneType: lambda t: st.none(),
    mi.BoolType: lambda t: st.booleans(),
    mi.DateTimeType: lambda t: _datetime(t),
}
