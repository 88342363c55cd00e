"""Matrix expansion: the combinations of dimension values that each become one PipelineRun.

Order is deterministic: dimensions in the order written, values in the order written, the last
dimension varying fastest (like nested loops). An exclude entry matches every combination that
contains all of its key/value pairs, so a partial entry removes a whole slice.
"""

from __future__ import annotations

import re
from itertools import product

from api.fielderrors import FieldError, child, item, suggestion
from api.pipelineconfig import Matrix


def expand_matrix(matrix: Matrix) -> list[dict[str, str]]:
    """Every combination of the dimensions' values, minus those matched by an exclude entry."""
    names = list(matrix.dimensions)
    combos = (dict(zip(names, values, strict=True)) for values in product(*matrix.dimensions.values()))
    return [combo for combo in combos if not any(_contains(combo, ex) for ex in matrix.exclude)]


def combination_count(matrix: Matrix) -> int:
    """How many combinations the dimensions span before exclusion (cheap: no expansion)."""
    count = 1
    for values in matrix.dimensions.values():
        count *= len(values)
    return count


def _contains(combo: dict[str, str], exclude: dict[str, str]) -> bool:
    return all(combo.get(key) == value for key, value in exclude.items())


MAX_COMBINATIONS = 256
_DIMENSION_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_matrix(matrix: Matrix, path: str) -> list[FieldError]:
    """Errors of a matrix that is well-formed in shape but would not expand sensibly."""
    where = child(path, "dimensions")
    if not matrix.dimensions:
        example = 'dimensions: {go: ["1.21", "1.22"]}'
        return [FieldError(path=where, message=f"a matrix needs at least one dimension: add e.g. {example}")]
    errors = [e for name, values in matrix.dimensions.items() for e in _check_dimension(name, values, where)]
    for i, entry in enumerate(matrix.exclude):
        errors += _check_exclude(entry, matrix.dimensions, item(child(path, "exclude"), i))
    return errors or _check_size(matrix, path)


def _check_dimension(name: str, values: list[str], path: str) -> list[FieldError]:
    where = child(path, name)
    if not _DIMENSION_NAME.match(name):
        fixed = re.sub(r"\W", "_", name)
        message = f'dimension name "{name}" cannot form the environment variable MATRIX_<NAME>'
        return [FieldError(path=where, message=f"{message}: use letters, digits and '_' (e.g. {fixed})")]
    if not values:
        return [FieldError(path=where, message=f'dimension "{name}" has no values: list at least one')]
    seen: set[str] = set()
    errors = []
    for i, value in enumerate(values):
        if value in seen:
            errors.append(FieldError(path=item(where, i), message=f'"{value}" is listed twice: remove one'))
        seen.add(value)
    return errors


def _check_exclude(entry: dict[str, str], dimensions: dict[str, list[str]], path: str) -> list[FieldError]:
    if not entry:
        message = "an empty exclude entry would exclude every combination: remove it"
        return [FieldError(path=path, message=message)]
    problems = ((key, _exclude_problem(key, value, dimensions)) for key, value in entry.items())
    return [FieldError(path=child(path, key), message=problem) for key, problem in problems if problem]


def _exclude_problem(key: str, value: str, dimensions: dict[str, list[str]]) -> str | None:
    if key not in dimensions:
        hint = suggestion(key, dimensions) or f"; the dimensions are: {', '.join(dimensions)}"
        return f'unknown dimension "{key}"{hint}'
    if value not in dimensions[key]:
        values = ", ".join(dimensions[key])
        hint = suggestion(value, dimensions[key]) or f"; use one of: {values}"
        return f'"{value}" is not a value of dimension "{key}", so this entry excludes nothing{hint}'
    return None


def _check_size(matrix: Matrix, path: str) -> list[FieldError]:
    count = combination_count(matrix)
    if count > MAX_COMBINATIONS:
        message = f"the matrix spans {count} combinations, more than the limit of {MAX_COMBINATIONS}"
        return [FieldError(path=child(path, "dimensions"), message=f"{message}: remove some values")]
    if not expand_matrix(matrix):
        message = "every combination is excluded, so no run would start: remove some exclude entries"
        return [FieldError(path=child(path, "exclude"), message=message)]
    return []
