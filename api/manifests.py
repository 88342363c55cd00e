"""Decoding a parsed manifest into the API Structs while collecting every shape error.

msgspec stops at the first problem; this walker follows the same type information
(`msgspec.inspect`) and reports them all: missing required fields, unknown fields (with a
did-you-mean hint), wrong types, patterns, lengths, enums and bounds. The Structs themselves accept
unknown fields (events carry them and schemas only grow), so the unknown-field check lives here.

It also returns a best-effort object so cross-field rules can run despite shape errors: an invalid
optional field falls back to its default, an invalid required one keeps what could be read.
That object is for diagnostics only; a clean manifest is decoded by msgspec itself (`decode`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from functools import cache
from typing import TypeVar, cast

import msgspec
import msgspec.inspect as mi

from api.fielderrors import FieldError, child, describe, item, suggestion
from api.meta import ObjectMeta, OwnerReference

S = TypeVar("S", bound=msgspec.Struct)

#: Structs whose unknown keys are expected (Kubernetes adds many metadata fields).
OPEN_STRUCTS: frozenset[type] = frozenset({ObjectMeta, OwnerReference})


@cache
def _info(cls: type[msgspec.Struct]) -> mi.Type:
    return mi.type_info(cls)


def check_struct(data: object, cls: type[S], path: str = "") -> tuple[S, list[FieldError]]:
    """Every shape error of `data` as a `cls`, and the best-effort object read from it."""
    walker = _Walker()
    obj = walker.walk(data, _info(cls), path, None)
    return cast(S, obj), walker.errors


def decode(data: object, cls: type[S]) -> tuple[S | None, list[FieldError]]:
    """`data` as a `cls` if it has no shape error, else None and every error."""
    _, errors = check_struct(data, cls)
    if errors:
        return None, errors
    try:
        return msgspec.convert(data, cls), []
    except msgspec.ValidationError as e:  # the walker missed a rule msgspec enforces
        return None, [FieldError(path=_msgspec_path(str(e)), message=str(e).split(" - at ")[0])]


def _msgspec_path(message: str) -> str:
    match = re.search(r" - at `\$(.*)`$", message)
    return match[1].lstrip(".") if match else ""


def expected(t: mi.Type) -> str:
    """What a value of type `t` looks like, in words."""
    if isinstance(t, mi.Metadata):
        return expected(t.type)
    if isinstance(t, mi.UnionType):
        return " or ".join(expected(x) for x in t.types if not isinstance(x, mi.NoneType))
    return _EXPECTED.get(type(t), "a value")


_EXPECTED: dict[type, str] = {
    mi.StrType: "a string",
    mi.IntType: "an integer",
    mi.FloatType: "a number",
    mi.BoolType: "true or false",
    mi.ListType: "a list",
    mi.DictType: "a mapping",
    mi.StructType: "a mapping",
    mi.DateTimeType: "a timestamp such as 2025-10-12T10:30:00Z",
    mi.LiteralType: "one of the listed values",
}


def description(t: mi.Type) -> str | None:
    """The description a field's type carries (the outermost one wins)."""
    if isinstance(t, mi.Metadata):
        text = (t.extra_json_schema or {}).get("description")
        return str(text) if text else description(t.type)
    if isinstance(t, mi.UnionType):
        return next((d for x in t.types if (d := description(x))), None)
    return None


class _Walker:
    """One walk over one manifest; `errors` collects what it finds."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []
        self._handlers: dict[type, Callable[[object, mi.Type, str, str | None], object]] = {
            mi.UnionType: self._union,
            mi.StructType: self._struct,
            mi.ListType: self._list,
            mi.DictType: self._dict,
            mi.StrType: self._str,
            mi.IntType: self._number,
            mi.FloatType: self._number,
            mi.BoolType: self._bool,
            mi.LiteralType: self._literal,
            mi.DateTimeType: self._datetime,
        }

    def walk(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        if isinstance(t, mi.Metadata):
            return self.walk(value, t.type, path, (t.extra or {}).get("expected") or hint)
        handler = self._handlers.get(type(t))
        return handler(value, t, path, hint) if handler else value

    def error(self, path: str, message: str) -> None:
        self.errors.append(FieldError(path=path, message=message))

    def wrong_type(self, value: object, t: mi.Type, path: str, hint: str | None = None) -> None:
        shown = "" if isinstance(value, dict | list) or value is None else f" ({_scalar(value)})"
        fix = _type_fix(value, t, hint)
        self.error(path, f"expected {expected(t)}, got {describe(value)}{shown}{fix}")

    def _union(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        types = cast(mi.UnionType, t).types
        if value is None and any(isinstance(x, mi.NoneType) for x in types):
            return None
        inner = [x for x in types if not isinstance(x, mi.NoneType)]
        return self.walk(value, inner[0], path, hint)

    def _struct(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        st = cast(mi.StructType, t)
        if not isinstance(value, dict):
            self.wrong_type(value, t, path)
            return _construct(st, {})
        if st.cls not in OPEN_STRUCTS:
            self._unknown_fields(value, st, path)
        kwargs = {f.name: v for f in st.fields if (v := self._field(value, f, path)) is not _SKIP}
        return st.cls(**kwargs)

    def _unknown_fields(self, value: dict[object, object], st: mi.StructType, path: str) -> None:
        known = [f.encode_name for f in st.fields]
        for key in value:
            if str(key) not in known:
                hint = suggestion(str(key), known) or f"; remove it (known fields: {', '.join(known)})"
                self.error(child(path, str(key)), f'unknown field "{key}"{hint}')

    def _field(self, value: dict[object, object], f: mi.Field, path: str) -> object:
        where = child(path, f.encode_name)
        if f.encode_name not in value:
            if f.required:
                about = f" ({d})" if (d := description(f.type)) else ""
                self.error(where, f"required field is missing: add {f.encode_name}{about}")
                return _zero(f.type)
            return _SKIP
        before = len(self.errors)
        result = self.walk(value[f.encode_name], f.type, where, None)
        return _SKIP if len(self.errors) > before and not f.required else result

    def _list(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        lt = cast(mi.ListType, t)
        if not isinstance(value, list):
            self.wrong_type(value, t, path)
            return []
        self._length(path, len(value), lt.min_length, lt.max_length, "items")
        return [self.walk(v, lt.item_type, item(path, i), None) for i, v in enumerate(value)]

    def _dict(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        dt = cast(mi.DictType, t)
        if not isinstance(value, dict):
            self.wrong_type(value, t, path)
            return {}
        self._length(path, len(value), dt.min_length, dt.max_length, "entries")
        out: dict[str, object] = {}
        for key, v in value.items():
            if not isinstance(key, str):
                self.error(child(path, str(key)), f"key {key!r} is {describe(key)}: quote it as a string")
                continue
            self.walk(key, dt.key_type, child(path, key), None)
            out[key] = self.walk(v, dt.value_type, child(path, key), None)
        return out

    def _length(self, path: str, n: int, low: int | None, high: int | None, unit: str) -> None:
        if low is not None and n < low:
            self.error(path, f"needs at least {low} {unit[:-1] if low == 1 else unit}, got {n}")
        if high is not None and n > high:
            self.error(path, f"has {n} {unit}, more than the limit of {high}")

    def _str(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        st = cast(mi.StrType, t)
        if not isinstance(value, str):
            self.wrong_type(value, t, path, hint)
            return ""
        if st.min_length and len(value) < st.min_length:
            short = "must not be empty" if st.min_length == 1 else f"needs {st.min_length}+ characters"
            self.error(path, short)
        elif st.max_length is not None and len(value) > st.max_length:
            self.error(path, f"is {len(value)} characters long, over the limit of {st.max_length}")
        elif st.pattern and not re.search(st.pattern, value):
            fix = f"expected {hint}" if hint else f"it must match {st.pattern}"
            self.error(path, f'invalid value "{value}": {fix}')
        return value

    def _number(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        nt = cast(mi.IntType | mi.FloatType, t)
        allowed = (int,) if isinstance(nt, mi.IntType) else (int, float)
        if isinstance(value, bool) or not isinstance(value, allowed):
            self.wrong_type(value, t, path)
            return 0
        if nt.ge is not None and value < nt.ge:
            self.error(path, f"must be at least {nt.ge}, got {value}")
        if nt.le is not None and value > nt.le:
            self.error(path, f"must be at most {nt.le}, got {value}")
        return value

    def _bool(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        if not isinstance(value, bool):
            self.wrong_type(value, t, path)
            return False
        return value

    def _literal(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        values = [str(v) for v in cast(mi.LiteralType, t).values]
        if not isinstance(value, str):
            shown = f"{describe(value)} ({_scalar(value)})"
            quoted = f'; quote it: "{value}"' if str(value) in values else ""
            self.error(path, f"expected one of {', '.join(values)} as a string, got {shown}{quoted}")
            return values[0]
        if value not in values:
            options = ", ".join(values)
            guess = suggestion(str(value), values)
            fix = f"{guess} (one of: {options})" if guess else f"; use one of: {options}"
            self.error(path, f'unknown value "{value}"{fix}')
            return values[0]
        return value

    def _datetime(self, value: object, t: mi.Type, path: str, hint: str | None) -> object:
        if isinstance(value, datetime):
            return value
        if isinstance(value, str):
            try:
                return msgspec.convert(value, datetime)
            except msgspec.ValidationError:
                pass
        shown = f" ({_scalar(value)})" if value is not None else ""
        fix = '; write an RFC 3339 time such as "2025-10-12T10:30:00Z"'
        self.error(path, f"expected a timestamp, got {describe(value)}{shown}{fix}")
        return None


_SKIP = object()


def _type_fix(value: object, t: mi.Type, hint: str | None) -> str:
    """How to turn `value` into the expected type, when the fix is obvious."""
    if isinstance(t, mi.StrType) and isinstance(value, int | float | date):
        if t.pattern is None or re.search(t.pattern, _scalar(value)):
            return f'; quote it: "{_scalar(value)}"'
        return f"; expected {hint}" if hint else f"; it must be a string matching {t.pattern}"
    if isinstance(t, mi.ListType) and not isinstance(value, dict | list):
        return f'; write a list, e.g. ["{value}"]' if isinstance(value, str) else "; write a list"
    return ""


def _scalar(value: object) -> str:
    """A scalar as YAML shows it (true, not True)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _construct(st: mi.StructType, kwargs: dict[str, object]) -> object:
    for f in st.fields:
        if f.required and f.name not in kwargs:
            kwargs[f.name] = _zero(f.type)
    return st.cls(**kwargs)


def _zero(t: mi.Type) -> object:
    """A placeholder of type `t` for a required field that could not be read."""
    if isinstance(t, mi.Metadata):
        return _zero(t.type)
    if isinstance(t, mi.StructType):
        return _construct(t, {})
    if isinstance(t, mi.LiteralType):
        return t.values[0]
    return _ZEROS.get(type(t), lambda: None)()


_ZEROS: dict[type, Callable[[], object]] = {
    mi.StrType: str,
    mi.IntType: int,
    mi.FloatType: float,
    mi.BoolType: bool,
    mi.ListType: list,
    mi.DictType: dict,
}
