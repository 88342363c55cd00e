"""The plane's binaries are the pinned Kubernetes release: kubectl and the apiserver report it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.k8s.conftest import Kubectl

pytestmark = pytest.mark.k8s

GO_MOD = Path(__file__).resolve().parents[1] / "controlplane" / "go.mod"


def pinned_release() -> str:
    match = re.search(r"^\s*k8s\.io/kubernetes (v1\.\d+\.\d+)$", GO_MOD.read_text(), re.MULTILINE)
    assert match, f"no k8s.io/kubernetes requirement in {GO_MOD}"
    return match.group(1)


async def test_kubectl_version_reports_the_pinned_release(kubectl: Kubectl) -> None:
    """`kubectl version` shows the go.mod's k8s.io/kubernetes version for both client and server."""
    versions = json.loads((await kubectl("version", "-o", "json")).stdout)
    release = pinned_release()
    assert versions["clientVersion"]["gitVersion"] == release
    assert versions["serverVersion"]["gitVersion"] == release
    assert versions["serverVersion"]["minor"] == release.split(".")[1]
