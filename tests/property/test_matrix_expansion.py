"""Property tests of matrix expansion (api/matrix.py).

Covers: expansion yields the Cartesian product of the dimensions in written order, without
duplicates; an exclude entry over any subset of dimensions removes exactly the combinations that
contain it, i.e. 1/(product of its dimensions' sizes) of them.
"""

from __future__ import annotations

import math
from itertools import product

from hypothesis import given
from hypothesis import strategies as st

from api.matrix import expand_matrix
from api.pipelineconfig import Matrix

values = st.lists(st.text(alphabet="abc123.", min_size=1, max_size=3), min_size=1, max_size=3, unique=True)
dimensions = st.dictionaries(st.sampled_from(["go", "os", "db", "arch"]), values, min_size=1, max_size=3)


@given(dimensions)
def test_expansion_is_the_ordered_product(dims: dict[str, list[str]]) -> None:
    """Without exclusions, expansion is the Cartesian product in written order, without duplicates."""
    combos = expand_matrix(Matrix(dimensions=dims))
    assert combos == [dict(zip(dims, vs, strict=True)) for vs in product(*dims.values())]
    assert len({tuple(c.items()) for c in combos}) == len(combos)


@given(dimensions, st.data())
def test_exclude_removes_exactly_the_matching_combinations(
    dims: dict[str, list[str]], data: st.DataObject
) -> None:
    """An exclude entry (any subset of dimensions) removes the combinations containing it, and only those."""
    keys = data.draw(st.lists(st.sampled_from(list(dims)), min_size=1, unique=True))
    entry = {k: data.draw(st.sampled_from(dims[k])) for k in keys}
    full = expand_matrix(Matrix(dimensions=dims))
    kept = expand_matrix(Matrix(dimensions=dims, exclude=[entry]))
    assert kept == [c for c in full if not entry.items() <= c.items()]
    assert len(full) - len(kept) == len(full) // math.prod(len(dims[k]) for k in keys)
