"""api.refnames against git itself: for generated branch names (built mostly from the characters
and sequences the rules are about), `ref_name_problem` finds a problem exactly when
`git check-ref-format refs/heads/<name>` refuses the name. NUL cannot be passed to git as an
argument, so the NUL case is pinned separately.
"""

from __future__ import annotations

import shutil
import subprocess

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from api.refnames import ref_name_problem

GIT = shutil.which("git")
pieces = st.sampled_from(
    ["a", "b", "main", "/", ".", "..", ".lock", "@", "{", "@{", "-", "~", "^", ":", "?", "*", "[", "\\",
     " ", "\t", "\x01", "\x1f", "\x7f", "é", "😀", "x.lock/", "//"]
)  # fmt: skip
names = st.lists(pieces, max_size=8).map("".join) | st.text(
    st.characters(min_codepoint=1, max_codepoint=0x24F, exclude_categories=("Cs",)), max_size=12
)


def git_accepts(name: str) -> bool:
    assert GIT is not None, "git is needed (the runner needs it too)"
    done = subprocess.run([GIT, "check-ref-format", f"refs/heads/{name}"], capture_output=True, check=False)
    return done.returncode == 0


@settings(max_examples=400, deadline=None)
@given(name=names)
@example("feature/x")
@example("-leading")
@example("@")
@example("a/.b")
@example("a.lock")
def test_same_verdict_as_git(name: str) -> None:
    """A name is refused exactly when git check-ref-format refuses it."""
    assert (ref_name_problem(name) is None) == git_accepts(name), ref_name_problem(name)


@pytest.mark.parametrize("name", ["main\x00", "\x00", "a\x00b"])
def test_nul_is_refused(name: str) -> None:
    """A NUL byte anywhere in the name is refused, named as U+0000."""
    problem = ref_name_problem(name)
    assert problem is not None and "U+0000" in problem
