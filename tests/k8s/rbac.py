"""Helpers for the RBAC tests on the real apiserver (test_deploy.py, test_onboarding.py): kubectl of
the plane (with stdin when given), `kubectl auth can-i` as a c8s ServiceAccount with the groups a
real token carries, and the RBAC objects of deploy/ applied for the length of a module."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import plane as plane_mod

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"
SYSTEM = "c8s-system"
ACCOUNTS = ("webhook", "scheduler", "job-watcher", "log-shipper", "projector", "notifier", "admission",
            "dashboard")
RBAC_FILES = ("100-namespace.yaml", "200-rbac.yaml", "210-team-roles.yaml")


def kubectl(plane: plane_mod.Plane, *args: str, check: bool = True,
            stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(plane.kubeconfig),
           "HOME": str(plane.directory)}
    result = subprocess.run([str(plane.kubectl), *args], env=env, capture_output=True, text=True, check=False,
                            timeout=120, input=stdin)
    if check and result.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def can_i(plane: plane_mod.Plane, account: str, verb: str, resource: str, sub: str, namespace: str) -> bool:
    """`kubectl auth can-i` as ServiceAccount c8s-`account`; namespace "" asks across all namespaces."""
    args = ["auth", "can-i", verb, resource, f"--as=system:serviceaccount:{SYSTEM}:c8s-{account}",
            "--as-group=system:serviceaccounts", f"--as-group=system:serviceaccounts:{SYSTEM}",
            "--as-group=system:authenticated"]
    args += [f"--subresource={sub}"] if sub else []
    args += ["-n", namespace] if namespace else ["--all-namespaces"]
    result = kubectl(plane, *args, check=False)
    assert result.stdout.strip() in ("yes", "no"), f"can-i answered {result.stdout!r} {result.stderr!r}"
    return result.stdout.strip() == "yes"


@contextmanager
def rbac_applied(plane: plane_mod.Plane, *extra: Path) -> Iterator[None]:
    """c8s-system and the RBAC objects of deploy/, and `extra` files, applied; the former removed after."""
    rbac = [arg for name in RBAC_FILES for arg in ("-f", str(DEPLOY / name))]
    kubectl(plane, "apply", "--server-side", "--force-conflicts", *rbac,
            *(arg for path in extra for arg in ("-f", str(path))))
    try:
        yield
    finally:
        # waits: the next module applies c8s-system again, which a Terminating namespace refuses
        kubectl(plane, "delete", "--ignore-not-found", *rbac)
