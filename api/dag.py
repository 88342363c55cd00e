"""The step graph: `dependsOn` edges between step names.

Pure graph helpers over `{step: [steps it depends on]}` in declaration order. Every function is
deterministic (ties broken by declaration order) and tolerates dangling or self edges by ignoring
them: reporting those is the validator's job.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from api.pipelineconfig import Step

Graph = Mapping[str, Sequence[str]]


def _deps(graph: Graph, node: str) -> list[str]:
    return [d for d in dict.fromkeys(graph.get(node, ())) if d in graph and d != node]


def topological_order(graph: Graph) -> list[str]:
    """Steps so that each comes after everything it depends on; raises ValueError on a cycle."""
    done: list[str] = []
    placed: set[str] = set()
    while len(done) < len(graph):
        ready = [n for n in graph if n not in placed and all(d in placed for d in _deps(graph, n))]
        if not ready:
            cycle = find_cycles(graph)[0]
            raise ValueError(f"dependency cycle {' -> '.join(cycle)}")
        done.extend(ready)
        placed.update(ready)
    return done


def find_cycles(graph: Graph) -> list[list[str]]:
    """Each cycle found by a depth-first walk, as `[a, b, c, a]` meaning a depends on b on c on a."""
    state: dict[str, str] = {}
    cycles: list[list[str]] = []
    for node in graph:
        if node not in state:
            _walk(graph, node, [], state, cycles)
    return cycles


def _walk(graph: Graph, node: str, path: list[str], state: dict[str, str], cycles: list[list[str]]) -> None:
    state[node] = "open"
    path.append(node)
    for dep in _deps(graph, node):
        if state.get(dep) == "open":
            cycles.append([*path[path.index(dep) :], dep])
        elif dep not in state:
            _walk(graph, dep, path, state, cycles)
    path.pop()
    state[node] = "done"


def longest_path(graph: Graph, weight: Mapping[str, int]) -> tuple[int, list[str]]:
    """The heaviest dependency chain (total weight, steps in run order) of an acyclic graph."""
    best: dict[str, tuple[int, list[str]]] = {}
    for node in topological_order(graph):
        before = max((best[d] for d in _deps(graph, node)), key=lambda b: b[0], default=(0, []))
        best[node] = (before[0] + weight.get(node, 0), [*before[1], node])
    return max(best.values(), key=lambda b: b[0], default=(0, []))


def step_graph(steps: Sequence[Step]) -> dict[str, list[str]]:
    """`{name: dependsOn}` of a pipeline's steps (the first step wins if a name repeats)."""
    graph: dict[str, list[str]] = {}
    for step in steps:
        graph.setdefault(step.name, list(step.depends_on))
    return graph


def ordered_steps(steps: Sequence[Step]) -> list[Step]:
    """The steps in an order that runs each after its dependencies; raises ValueError on a cycle."""
    by_name = {step.name: step for step in reversed(steps)}
    return [by_name[name] for name in topological_order(step_graph(steps))]
