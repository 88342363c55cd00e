"""Field errors: what is wrong with one field of a manifest, and where.

`FieldError.path` uses the kubectl style `spec.steps[1].dependsOn[0]`; mapping keys that are not
plain identifiers are quoted (`data["config.json"]`). Messages say what is wrong and how to fix it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import date, datetime

from msgspec import Struct

_PLAIN_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class FieldError(Struct, frozen=True, kw_only=True):
    """One problem with one field: `path` names the field, `message` the problem and the fix."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


def child(path: str, key: str) -> str:
    """The path of mapping key `key` under `path`."""
    if not _PLAIN_KEY.match(key):
        return f'{path}["{key}"]'
    return f"{path}.{key}" if path else key


def item(path: str, index: int) -> str:
    """The path of list item `index` under `path`."""
    return f"{path}[{index}]"


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest known word to a misspelt one (case-insensitive first), or None."""
    options = list(choices)
    for option in options:
        if option.lower() == word.lower():
            return option
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return close[0] if close else None


def suggestion(word: str, choices: Iterable[str]) -> str:
    """': did you mean "x"?' when a known word is close, else ''."""
    guess = did_you_mean(word, choices)
    return f': did you mean "{guess}"?' if guess else ""


def describe(value: object) -> str:
    """What a parsed YAML value is, for 'expected X, got Y' messages."""
    for kind, text in _KINDS:
        if isinstance(value, kind):
            return text
    return type(value).__name__


_KINDS: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "a boolean"),
    (int, "an integer"),
    (float, "a number"),
    (str, "a string"),
    (list, "a list"),
    (dict, "a mapping"),
    (datetime, "a timestamp"),
    (date, "a date"),
    (type(None), "null"),
)
