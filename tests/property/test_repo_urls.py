"""Property of repository URL normalisation: every form of one repository gives one key.

For generated hosts (random case) and paths (one to four segments, any case), the https, http,
git, ssh (with and without user and port) and scp-like forms, with or without `.git` and a trailing
slash, all normalise to `host/path` in lower case; and two paths that differ beyond case never
share a key.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from services.webhook.providers.urls import normalise_repo_url

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hosts = st.lists(label, min_size=1, max_size=3).map(".".join)
segment = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,15}", fullmatch=True).filter(
    lambda s: not s.endswith(".git") and s not in (".", "..")
)
paths = st.lists(segment, min_size=1, max_size=4).map("/".join)


def random_case(text: str, flips: list[bool]) -> str:
    return "".join(
        c.upper() if flip else c for c, flip in zip(text, flips + [False] * len(text), strict=False)
    )


def forms(host: str, path: str, suffix: str, slash: str) -> list[str]:
    tail = f"{path}{suffix}{slash}"
    return [
        f"https://{host}/{tail}",
        f"http://{host}:8080/{tail}",
        f"git://{host}/{tail}",
        f"ssh://git@{host}/{tail}",
        f"ssh://git@{host}:2222/{tail}",
        f"https://user:pw@{host}/{tail}",
        f"git@{host}:{path}{suffix}",
    ]


@given(hosts, paths, st.sampled_from(["", ".git"]), st.sampled_from(["", "/"]), st.lists(st.booleans()))
def test_all_forms_normalise_equal(host: str, path: str, suffix: str, slash: str, flips: list[bool]) -> None:
    """Every form, with host and path in any case, normalises to host/path in lower case (the
    providers ignore the case of owner and repository)."""
    cased = random_case(host, flips)
    keys = {normalise_repo_url(url) for url in forms(cased, random_case(path, flips), suffix, slash)}
    assert keys == {f"{host}/{path}".lower()}


@given(hosts, paths, paths)
def test_different_paths_differ(host: str, a: str, b: str) -> None:
    """Two repositories on one host with different paths (ignoring case) never share a key."""
    if a.lower() != b.lower():
        assert normalise_repo_url(f"https://{host}/{a}") != normalise_repo_url(f"git@{host}:{b}.git")
