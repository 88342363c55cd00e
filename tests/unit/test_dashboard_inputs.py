"""Request inputs of the dashboard (services/dashboard/inputs.py).

Covers: names, namespaces and steps as the store can hold them (404 otherwise, with the part named);
`..`, slashes and over-long names refused; the run filter from a query string: every field,
unknown and repeated parameters, bad phase, pr, limit and branch values (400 naming the parameter).
"""

from __future__ import annotations

import pytest

from services.dashboard import inputs
from services.dashboard.inputs import BadInput, RunFilter


def _filter(**query: str) -> RunFilter:
    return inputs.run_filter(query, list(query))


@pytest.mark.parametrize("text", ["..", "a..b", "a/b", "A", "-a", "a" * 254, "", "a b", "ä"])
def test_bad_names_are_404(text: str) -> None:
    """A run name that cannot exist is a 404 naming the part."""
    with pytest.raises(BadInput) as caught:
        inputs.name(text, "run")
    assert caught.value.status == 404 and "run must be" in str(caught.value)


def test_good_names() -> None:
    """DNS subdomain names, labels and step names pass unchanged."""
    assert inputs.name("app-ci-3f2a9c1-1a2b3c4d.x") == "app-ci-3f2a9c1-1a2b3c4d.x"
    assert inputs.namespace("team-a") == "team-a"
    assert inputs.step("build-2") == "build-2"
    with pytest.raises(BadInput):
        inputs.namespace("a" * 64)


def test_full_filter() -> None:
    """Every filter field is read and checked."""
    got = _filter(namespace="team-a", config="app-ci", branch="feature/x", pr="42", phase="Failed", limit="5")
    assert got == RunFilter(
        namespace="team-a", config="app-ci", branch="feature/x", pr=42, phase="Failed", limit=5
    )


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"colour": "red"}, "'colour'"),
        ({"phase": "Done"}, "'phase'"),
        ({"pr": "-1"}, "'pr'"),
        ({"limit": "0"}, "'limit'"),
        ({"limit": "99999999999"}, "'limit'"),
        ({"branch": "a..b"}, "branch"),
        ({"branch": "x\ny"}, "branch"),
        ({"namespace": "Team"}, "namespace"),
    ],
)
def test_bad_query_is_400(query: dict[str, str], named: str) -> None:
    """A malformed query is a 400 whose message names the parameter."""
    with pytest.raises(BadInput) as caught:
        _filter(**query)
    assert caught.value.status == 400 and named in str(caught.value)


def test_repeated_parameter_is_400() -> None:
    """`?phase=Failed&phase=Running` is refused rather than silently using one."""
    with pytest.raises(BadInput, match="more than once"):
        inputs.run_filter({"phase": "Failed"}, ["phase", "phase"])
