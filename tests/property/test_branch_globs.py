"""Property tests of branch globs (api/branches.py).

Covers: a glob without metacharacters matches only itself; `*` matches exactly the branches
without '/'; `prefix/*` matches one more segment and never two; `**` matches everything;
globs agree with a segment-by-segment fnmatch reference when they contain no `**`.
"""

from __future__ import annotations

import fnmatch

from hypothesis import given
from hypothesis import strategies as st

from api.branches import branch_matches

segment = st.text(alphabet="abcxyz0123-_.", min_size=1, max_size=6)
branch = st.lists(segment, min_size=1, max_size=4).map("/".join)
glob_segment = st.text(alphabet="abx-.*?", min_size=1, max_size=5).filter(lambda s: "**" not in s)


@given(branch, branch)
def test_literal_matches_only_itself(pattern: str, name: str) -> None:
    """A glob without metacharacters matches exactly the identical branch."""
    assert branch_matches(pattern, name) is (pattern == name)


@given(branch)
def test_star_stays_in_one_segment(name: str) -> None:
    """`*` matches a branch exactly when it has no '/'."""
    assert branch_matches("*", name) is ("/" not in name)


@given(segment, segment, segment)
def test_prefix_star_matches_one_segment_not_two(prefix: str, one: str, two: str) -> None:
    """`p/*` matches `p/x` but never `p/x/y`; `p/**` matches both."""
    assert branch_matches(f"{prefix}/*", f"{prefix}/{one}")
    assert not branch_matches(f"{prefix}/*", f"{prefix}/{one}/{two}")
    assert branch_matches(f"{prefix}/**", f"{prefix}/{one}/{two}")


@given(branch)
def test_double_star_matches_everything(name: str) -> None:
    """`**` matches every branch."""
    assert branch_matches("**", name)


@given(st.lists(glob_segment, min_size=1, max_size=3), branch)
def test_agrees_with_segmentwise_fnmatch(pattern_segments: list[str], name: str) -> None:
    """Without `**`, a glob matches when each segment fnmatches the branch segment at its position."""
    segments = name.split("/")
    expected = len(segments) == len(pattern_segments) and all(
        fnmatch.fnmatchcase(s, p) for s, p in zip(segments, pattern_segments, strict=True)
    )
    assert branch_matches("/".join(pattern_segments), name) is expected
