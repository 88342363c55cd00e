"""The Quotas port's contract (ports/quotas.py), run against every adapter.

`QuotasContract` holds what every adapter promises; each adapter gets a subclass with a
`quotas_harness` fixture yielding a QuotasHarness (the adapter, and a namespace that exists and has
no quotas). Here: local mode's NoQuotas; the Kubernetes adapter (ResourceQuota objects on the real
apiserver) subclasses it in tests/k8s/test_kube_quotas.py and adds what only it can show (real
quotas: their order, limits and usage).

Covers: a namespace without quotas has none (an empty list, read twice alike); a namespace that
does not exist has none too, not an error.
"""

from __future__ import annotations

import uuid

import pytest

from adapters.local.quotas import NoQuotas
from ports.quotas import Quotas


class QuotasHarness:
    """An adapter and a namespace that exists in its backend and holds no quotas."""

    def __init__(self, quotas: Quotas, namespace: str) -> None:
        self.quotas, self.namespace = quotas, namespace


class QuotasContract:
    """The contract tests; a subclass provides the `quotas_harness` fixture."""

    async def test_a_namespace_without_quotas_has_none(self, quotas_harness: QuotasHarness) -> None:
        """A namespace with no quotas gives an empty list, every time."""
        quotas, ns = quotas_harness.quotas, quotas_harness.namespace
        assert await quotas.of_namespace(ns) == []
        assert await quotas.of_namespace(ns) == []

    async def test_an_unknown_namespace_has_none(self, quotas_harness: QuotasHarness) -> None:
        """A namespace that does not exist gives an empty list, not an error."""
        assert await quotas_harness.quotas.of_namespace(f"absent-{uuid.uuid4().hex[:8]}") == []


class TestNoQuotasContract(QuotasContract):
    @pytest.fixture
    def quotas_harness(self) -> QuotasHarness:
        return QuotasHarness(NoQuotas(), "team-a")
