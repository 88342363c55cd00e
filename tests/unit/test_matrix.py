"""Matrix expansion and matrix rules (api/matrix.py).

Covers: combinations in nested-loop order, full and partial exclude entries, exclusion of
everything, the combination count, and check_matrix: no dimensions, empty or duplicate values,
dimension names unusable in MATRIX_<NAME>, exclude entries naming unknown dimensions or values,
an empty exclude entry, too many combinations and everything excluded.
"""

from __future__ import annotations

from api.matrix import MAX_COMBINATIONS, check_matrix, combination_count, expand_matrix
from api.pipelineconfig import Matrix


def messages(matrix: Matrix) -> list[str]:
    return [str(e) for e in check_matrix(matrix, "spec.matrix")]


def test_expansion_order_is_nested_loops() -> None:
    """Dimensions in written order, the last varying fastest."""
    matrix = Matrix(dimensions={"go": ["1.21", "1.22"], "os": ["linux", "darwin"]})
    assert expand_matrix(matrix) == [
        {"go": "1.21", "os": "linux"},
        {"go": "1.21", "os": "darwin"},
        {"go": "1.22", "os": "linux"},
        {"go": "1.22", "os": "darwin"},
    ]


def test_full_exclude_entry_removes_one_combination() -> None:
    """An entry naming every dimension removes exactly that combination."""
    dimensions = {"go": ["1.21", "1.22"], "os": ["linux"]}
    matrix = Matrix(dimensions=dimensions, exclude=[{"go": "1.21", "os": "linux"}])
    assert expand_matrix(matrix) == [{"go": "1.22", "os": "linux"}]


def test_partial_exclude_entry_removes_every_combination_containing_it() -> None:
    """An entry naming some dimensions removes the whole slice."""
    matrix = Matrix(
        dimensions={"go": ["1.21", "1.22"], "os": ["linux", "darwin"], "db": ["pg", "my"]},
        exclude=[{"os": "darwin", "db": "my"}],
    )
    combos = expand_matrix(matrix)
    assert len(combos) == 6
    assert {"go": "1.21", "os": "darwin", "db": "my"} not in combos
    assert {"go": "1.22", "os": "darwin", "db": "pg"} in combos


def test_combination_count_ignores_exclusions() -> None:
    """The count is the product of the dimension sizes."""
    matrix = Matrix(dimensions={"a": ["1", "2", "3"], "b": ["x", "y"]}, exclude=[{"a": "1"}])
    assert combination_count(matrix) == 6


def test_valid_matrix_has_no_errors() -> None:
    """A matrix with values and meaningful exclusions passes."""
    matrix = Matrix(dimensions={"go": ["1.21", "1.22"], "os": ["linux"]}, exclude=[{"go": "1.21"}])
    assert messages(matrix) == []


def test_matrix_needs_a_dimension() -> None:
    """An empty matrix is rejected with an example of a dimension."""
    assert messages(Matrix()) == [
        "spec.matrix.dimensions: a matrix needs at least one dimension: "
        'add e.g. dimensions: {go: ["1.21", "1.22"]}'
    ]


def test_dimension_needs_values() -> None:
    """A dimension without values is rejected."""
    assert messages(Matrix(dimensions={"os": []})) == [
        'spec.matrix.dimensions.os: dimension "os" has no values: list at least one'
    ]


def test_duplicate_value_in_dimension() -> None:
    """A value listed twice would start the same run twice."""
    assert messages(Matrix(dimensions={"os": ["linux", "linux"]})) == [
        'spec.matrix.dimensions.os[1]: "linux" is listed twice: remove one'
    ]


def test_dimension_name_must_form_an_environment_variable() -> None:
    """A dimension name becomes MATRIX_<NAME>, so it must be an identifier; the fix is suggested."""
    assert messages(Matrix(dimensions={"go-version": ["1.22"]})) == [
        'spec.matrix.dimensions.go-version: dimension name "go-version" cannot form the environment '
        "variable MATRIX_<NAME>: use letters, digits and '_' (e.g. go_version)"
    ]


def test_exclude_unknown_dimension_suggests_the_closest() -> None:
    """An exclude key that is not a dimension is an error with a did-you-mean hint."""
    matrix = Matrix(dimensions={"os": ["linux"], "go": ["1.22"]}, exclude=[{"oss": "linux"}])
    assert messages(matrix) == ['spec.matrix.exclude[0].oss: unknown dimension "oss": did you mean "os"?']


def test_exclude_unknown_dimension_lists_the_dimensions() -> None:
    """Without a close match the message lists the dimensions."""
    matrix = Matrix(dimensions={"os": ["linux"], "go": ["1.22"]}, exclude=[{"arch": "arm"}])
    assert messages(matrix) == [
        'spec.matrix.exclude[0].arch: unknown dimension "arch"; the dimensions are: os, go'
    ]


def test_exclude_unknown_value() -> None:
    """An exclude value the dimension does not take excludes nothing, which is an error."""
    matrix = Matrix(dimensions={"os": ["linux", "darwin"]}, exclude=[{"os": "windows"}])
    assert messages(matrix) == [
        'spec.matrix.exclude[0].os: "windows" is not a value of dimension "os", so this entry excludes '
        "nothing; use one of: linux, darwin"
    ]


def test_empty_exclude_entry() -> None:
    """An empty exclude entry would match every combination."""
    matrix = Matrix(dimensions={"os": ["linux"]}, exclude=[{}])
    assert messages(matrix) == [
        "spec.matrix.exclude[0]: an empty exclude entry would exclude every combination: remove it"
    ]


def test_everything_excluded() -> None:
    """Excluding every combination would start no run."""
    matrix = Matrix(dimensions={"os": ["linux", "darwin"]}, exclude=[{"os": "linux"}, {"os": "darwin"}])
    assert messages(matrix) == [
        "spec.matrix.exclude: every combination is excluded, so no run would start: "
        "remove some exclude entries"
    ]


def test_too_many_combinations() -> None:
    """A matrix spanning more combinations than the limit is rejected."""
    values = [str(i) for i in range(17)]
    matrix = Matrix(dimensions={"a": values, "b": values})
    assert messages(matrix) == [
        "spec.matrix.dimensions: the matrix spans 289 combinations, "
        f"more than the limit of {MAX_COMBINATIONS}: remove some values"
    ]
