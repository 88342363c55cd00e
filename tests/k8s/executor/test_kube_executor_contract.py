"""The Executor contract (tests/integration/test_executor_contract.py) on KubeExecutor: Jobs on the
real control plane, run by the test node agent, in a fresh namespace per test."""

from __future__ import annotations

import pytest

from tests.integration.test_executor_contract import ExecutorContract
from tests.k8s.executor.kube_harness import KubeStepHarness

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("c8s_crds")]


class TestKubeExecutorContract(ExecutorContract):
    @pytest.fixture
    def step_harness(self, kube_step_harness: KubeStepHarness) -> KubeStepHarness:
        return kube_step_harness
