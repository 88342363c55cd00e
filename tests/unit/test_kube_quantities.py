"""Kubernetes quantity strings as the quota adapter reads them (adapters/kube/quotas.parse_quantity).

Covers: plain and fractional numbers, decimal SI suffixes (n to E), binary suffixes (Ki to Ei),
exponent notation, and the Invalid error for anything else.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from adapters.kube.quotas import parse_quantity
from ports.resources import Invalid


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("100", "100"),
        ("1.5", "1.5"),
        ("500m", "0.5"),
        ("250u", "0.00025"),
        ("10n", "0.00000001"),
        ("2k", "2000"),
        ("2G", "2000000000"),
        ("1E", "1000000000000000000"),
        ("1Ki", "1024"),
        ("0.5Mi", "524288"),
        ("4Gi", "4294967296"),
        ("1e3", "1000"),
        ("5E-1", "0.5"),
    ],
)
def test_quantities_in_base_units(text: str, value: str) -> None:
    """Each quantity form becomes its value in base units (cores, bytes, counts)."""
    assert parse_quantity(text) == Decimal(value)


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "5 Gi", "5gi", "Mi"])
def test_not_a_quantity(text: str) -> None:
    """Anything else is Invalid, quoting the text."""
    with pytest.raises(Invalid, match="not a Kubernetes quantity"):
        parse_quantity(text)
