"""The step graph helpers (api/dag.py).

Covers: topological order of names and of Step Structs (declaration order among ready steps,
dangling and self edges ignored), cycle detection and the named cycle, longest weighted path
through parallel branches.
"""

from __future__ import annotations

import pytest

from api.dag import find_cycles, longest_path, ordered_steps, topological_order
from api.pipelineconfig import Step


def test_topological_order_keeps_declaration_order_among_ready_steps() -> None:
    """Steps come after their dependencies; independent steps keep their written order."""
    graph = {"build": ["test", "lint"], "test": [], "lint": [], "push": ["build"]}
    assert topological_order(graph) == ["test", "lint", "build", "push"]


def test_topological_order_ignores_dangling_and_self_edges() -> None:
    """Edges to unknown steps or to the step itself do not block ordering (they are reported elsewhere)."""
    assert topological_order({"a": ["ghost", "a"], "b": ["a"]}) == ["a", "b"]


def test_topological_order_raises_naming_the_cycle() -> None:
    """A cyclic graph has no order, and the error names the cycle."""
    with pytest.raises(ValueError, match=r"dependency cycle a -> b -> c -> a"):
        topological_order({"a": ["b"], "b": ["c"], "c": ["a"]})


def test_find_cycles() -> None:
    """Each cycle is listed once, closed on its first step; acyclic parts add nothing."""
    graph = {"a": ["b"], "b": ["a"], "c": ["d"], "d": ["c"], "e": ["a"]}
    assert find_cycles(graph) == [["a", "b", "a"], ["c", "d", "c"]]
    assert find_cycles({"a": [], "b": ["a"]}) == []


def test_longest_path_takes_the_heaviest_parallel_branch() -> None:
    """Parallel branches do not add up: the heaviest chain wins."""
    graph = {"deps": [], "lint": ["deps"], "test": ["deps"], "build": ["lint", "test"]}
    weights = {"deps": 60, "lint": 600, "test": 1200, "build": 300}
    assert longest_path(graph, weights) == (1560, ["deps", "test", "build"])


def test_longest_path_of_empty_graph() -> None:
    """An empty graph has an empty path of weight 0."""
    assert longest_path({}, {}) == (0, [])


def test_ordered_steps() -> None:
    """Steps come back as Structs in dependency order, independent ones in written order."""
    steps = [
        Step(name="push", image="i", commands=[], depends_on=["build"]),
        Step(name="test", image="i", commands=[]),
        Step(name="build", image="i", commands=[], depends_on=["test"]),
        Step(name="lint", image="i", commands=[]),
    ]
    assert [s.name for s in ordered_steps(steps)] == ["test", "lint", "build", "push"]
