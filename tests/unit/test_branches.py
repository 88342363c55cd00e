"""Branch glob matching (api/branches.py).

Covers: literal names, `*` staying inside one path segment, `**` crossing '/', `**/` matching
zero segments, `?`, regex metacharacters taken literally, and the any-of filter.
"""

from __future__ import annotations

import pytest

from api.branches import branch_matches, matches_any


@pytest.mark.parametrize(
    ("pattern", "branch", "expected"),
    [
        ("main", "main", True),
        ("main", "main2", False),
        ("main", "xmain", False),
        ("*", "main", True),
        ("*", "feature/x", False),
        ("feature/*", "feature/x", True),
        ("feature/*", "feature/x/y", False),
        ("feature/*", "feature", False),
        ("feature/**", "feature/x/y", True),
        ("feature/**", "feature/x", True),
        ("**", "a/b/c", True),
        ("release-*", "release-1.2", True),
        ("release-*", "release-1/hotfix", False),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a/**/b", "a/x/y/c", False),
        ("**/fix", "fix", True),
        ("**/fix", "team/x/fix", True),
        ("v?", "v1", True),
        ("v?", "v/", False),
        ("v?", "v12", False),
        ("release/1.2", "release/1x2", False),
        ("(x)+", "(x)+", True),
    ],
)
def test_branch_matches(pattern: str, branch: str, expected: bool) -> None:
    """Each pattern matches exactly the branches its glob semantics allow."""
    assert branch_matches(pattern, branch) is expected


def test_matches_any() -> None:
    """A branch filter passes when any one of its globs matches."""
    assert matches_any(["main", "feature/*"], "feature/login")
    assert not matches_any(["main", "feature/*"], "bugfix/login")
    assert not matches_any([], "main")
