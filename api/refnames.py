"""Git ref names: whether a branch or tag name is one git itself would accept (pure).

The rules are `git check-ref-format`'s, applied to `refs/heads/<name>` (or `refs/tags/<name>`):
no component starting with '.' or ending in '.lock'; no '..', '@{', '//', leading or trailing
'/', trailing '.'; no control character, space, '~', '^', ':', '?', '*', '[' or '\\'. A name git
would refuse cannot name a real ref, so a delivery carrying one is forged or broken, and refusing
it at the edge keeps it out of PipelineRuns, labels, checkouts and logs (a NUL byte once reached
the runner and killed the step). tests/property/test_ref_names.py holds this function to git's.
"""

from __future__ import annotations

import re

_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
_SEQUENCES = ("..", "@{", "//")


def ref_name_problem(name: str) -> str | None:
    """Why `name` is not a valid branch or tag name for git, or None when it is."""
    if not name:
        return "it is empty"
    if found := _FORBIDDEN.search(name):
        return f"it contains {_shown(found.group())} (git refuses control characters, space and ~^:?*[\\)"
    if sequence := next((s for s in _SEQUENCES if s in name), None):
        return f"it contains {sequence!r}"
    if name.startswith("/") or name.endswith("/"):
        return "it begins or ends with '/'"
    if name.endswith("."):
        return "it ends with '.'"
    return _component_problem(name)


def _component_problem(name: str) -> str | None:
    for component in name.split("/"):
        if component.startswith("."):
            return f"its component {component[:64]!r} begins with '.'"
        if component.endswith(".lock"):
            return f"its component {component[:64]!r} ends with '.lock'"
    return None


def _shown(char: str) -> str:
    return f"U+{ord(char):04X}" if char.isspace() or not char.isprintable() else repr(char)
