"""The StepLogs contract (tests/integration/test_step_logs_contract.py) on KubeStepLogs: pods/log of
steps run as Jobs on the real control plane (the test node agent runs them as local processes, so
a step can wait on a gate file the test creates), in a fresh namespace per test."""

from __future__ import annotations

import pytest

from tests.integration.test_step_logs_contract import StepLogsContract
from tests.k8s.executor.kube_harness import KubeStepHarness

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("c8s_crds")]


class TestKubeStepLogsContract(StepLogsContract):
    @pytest.fixture
    def step_harness(self, kube_step_harness: KubeStepHarness) -> KubeStepHarness:
        return kube_step_harness
