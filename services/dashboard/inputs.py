"""What a request may ask for, checked before anything is read (pure).

Invariant: a path segment or query value that does not fit what the store can hold is refused
here with a 4xx naming the parameter and what it should be, so no malformed input ever reaches a
port (and none can answer 5xx): namespaces are DNS labels (63), object names DNS subdomains (253),
step names as the API spells them (63), branches git-ref-like text (255, no control characters),
phases the API's, and unknown query parameters are refused rather than ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from msgspec import Struct

from api.pipelinerun import RunPhase

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^(?!.*\.\.)[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_BRANCH = re.compile(r"^(?!.*\.\.)[^\x00-\x1f\x7f ~^:?*\[\\]{1,255}$")
PHASES: tuple[RunPhase, ...] = ("Pending", "Running", "Succeeded", "Failed", "Cancelled")
FILTERS = ("namespace", "config", "branch", "pr", "phase", "limit")
MAX_LIMIT = 500
DEFAULT_LIMIT = 100


class BadInput(Exception):
    """The request is malformed: `status` (400 or 404) and a message naming the part and the fix."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class RunFilter(Struct, frozen=True, kw_only=True):
    """Which runs a listing shows; empty fields match everything."""

    namespace: str = ""
    config: str = ""
    branch: str = ""
    pr: int | None = None
    phase: str = ""
    limit: int = DEFAULT_LIMIT


def namespace(text: str, status: int = 404) -> str:
    expected = "a DNS label: lower-case letters, digits and '-', at most 63"
    return _checked(text, _LABEL, "namespace", expected, status)


def name(text: str, what: str = "name", status: int = 404) -> str:
    expected = "lower-case letters, digits, '-' and '.', at most 253"
    return _checked(text, _SUBDOMAIN, what, expected, status)


def step(text: str) -> str:
    return _checked(text, _LABEL, "step", "lower-case letters, digits and '-', at most 63", 404)


def index(text: str, what: str) -> int:
    if not text.isascii() or not text.isdigit() or len(text) > 4:
        raise BadInput(404, f"{what} must be a small whole number, got {text[:20]!r}")
    return int(text)


def run_filter(query: Mapping[str, str], keys: list[str]) -> RunFilter:
    """The filter a query string asks for; unknown or repeated parameters and bad values are 400."""
    unknown = sorted({k for k in keys if k not in FILTERS})
    if unknown:
        raise BadInput(400, f"unknown query parameter {unknown[0][:40]!r}: use {', '.join(FILTERS)}")
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise BadInput(400, f"query parameter {repeated[0]!r} given more than once")
    return RunFilter(
        namespace=_optional(query, "namespace", lambda t: namespace(t, 400)),
        config=_optional(query, "config", lambda t: name(t, "config", 400)),
        branch=_optional(query, "branch", _branch),
        pr=_pr(query.get("pr", "")),
        phase=_optional(query, "phase", _phase),
        limit=_limit(query.get("limit", "")),
    )


def _optional(query: Mapping[str, str], key: str, check: Callable[[str], str]) -> str:
    value = query.get(key, "")
    return check(value) if value else ""


def _branch(text: str) -> str:
    expected = "a git branch name (at most 255, no spaces or control characters)"
    return _checked(text, _BRANCH, "branch", expected, 400)


def _phase(text: str) -> str:
    if text not in PHASES:
        raise BadInput(400, f"query parameter 'phase' must be one of {', '.join(PHASES)}, got {text[:40]!r}")
    return text


def _pr(text: str) -> int | None:
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise BadInput(400, f"query parameter 'pr' must be a pull request number, got {text[:40]!r}")
    return int(text)


def _limit(text: str) -> int:
    if not text:
        return DEFAULT_LIMIT
    if not text.isascii() or not text.isdigit() or not 1 <= int(text[:6]) <= MAX_LIMIT:
        expected = f"a number from 1 to {MAX_LIMIT}"
        raise BadInput(400, f"query parameter 'limit' must be {expected}, got {text[:40]!r}")
    return int(text)


def _checked(text: str, pattern: re.Pattern[str], what: str, expected: str, status: int) -> str:
    if not pattern.fullmatch(text):
        shown = text[:64] + ("..." if len(text) > 64 else "")
        raise BadInput(status, f"{what} must be {expected}, got {shown!r}")
    return text
