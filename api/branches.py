"""Branch glob matching for `spec.branches` and `conditional.branch`.

Semantics (DESIGN.md, spec corrections): the pattern is matched against the whole branch name;
`*` matches any run of characters inside one path segment (never '/'), `?` one such character,
`**` any run including '/', and `**/` also matches nothing (so `a/**/b` matches `a/b`).
Every other character matches itself. So `feature/*` matches `feature/x` but not `feature/x/y`.
"""

from __future__ import annotations

import re
from functools import lru_cache

_TOKENS = re.compile(r"\*\*/|\*\*|\*|\?|[^*?]+")
_REGEX_OF = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}


@lru_cache(maxsize=1024)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """The compiled, fully anchored regular expression equivalent to a branch glob."""
    parts = (_REGEX_OF.get(token) or re.escape(token) for token in _TOKENS.findall(pattern))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


def branch_matches(pattern: str, branch: str) -> bool:
    """Whether `branch` matches the glob `pattern`."""
    return glob_regex(pattern).match(branch) is not None


def matches_any(patterns: list[str], branch: str) -> bool:
    """Whether `branch` matches at least one of the globs (the `spec.branches` filter)."""
    return any(branch_matches(pattern, branch) for pattern in patterns)
