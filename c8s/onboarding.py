"""Onboarding a team namespace: the RoleBindings that let c8s's services read its Secrets there.

No c8s service may read Secrets cluster-wide (deploy/200-rbac.yaml); a team namespace lends the
few that need them `get` on its Secrets by binding ClusterRole `c8s-team-secret-reader`
(deploy/210-team-roles.yaml, bound nowhere else) to exactly their ServiceAccounts, one RoleBinding
each, so an operator can see and drop one. `GRANTS` is the single list of who gets it and why;
tests/k8s/test_deploy.py applies `manifest()` on the real apiserver and checks the can-i matrix.

Invariant: the manifest is namespaced RoleBindings only — never a ClusterRoleBinding, never a
Secret verb beyond `get` — and is the same text for the same arguments (re-applying is a no-op).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

SYSTEM_NAMESPACE = "c8s-system"
ROLE = "c8s-team-secret-reader"
MANAGED_BY = "c8s-team-onboard"

#: (service account, why it reads the team's Secrets): what `c8s team onboard` binds ROLE to.
GRANTS: tuple[tuple[str, str], ...] = (
    ("c8s-webhook", "verifies deliveries with the connection's webhookSecretRef"),
    (
        "c8s-notifier",
        "posts commit statuses and registers hooks with the connection's authSecretRef "
        "token; reads the namespace's chat settings (Secret c8s-notifications)",
    ),
    ("c8s-log-shipper", "masks the values of the run's secrets and git credentials in step logs"),
    ("c8s-admission", "checks that the Secrets a PipelineConfig or connection names exist with their keys"),
)

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


class BadNamespace(ValueError):
    """The namespace is not a Kubernetes namespace name, or is c8s's own."""


def check_namespace(namespace: str, system: str = SYSTEM_NAMESPACE) -> None:
    """Raise BadNamespace (with the fix) unless `namespace` can be a team namespace."""
    if len(namespace) > 63 or not _LABEL.fullmatch(namespace):
        raise BadNamespace(
            f"namespace {namespace!r} is not a valid namespace name: use at most 63 lower-case "
            "letters, digits and '-', starting and ending with a letter or digit (e.g. team-a)"
        )
    if namespace in (system, "kube-system", "kube-public", "kube-node-lease"):
        raise BadNamespace(
            f"namespace {namespace} is not a team namespace: onboard the namespace your pipelines run in"
        )


def rolebindings(namespace: str, system: str = SYSTEM_NAMESPACE) -> list[dict[str, Any]]:
    """One RoleBinding per GRANTS entry, in `namespace`, for the ServiceAccounts of `system`."""
    check_namespace(namespace, system)
    return [_rolebinding(namespace, system, account, why) for account, why in GRANTS]


def _rolebinding(namespace: str, system: str, account: str, why: str) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": account,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "c8s", "app.kubernetes.io/managed-by": MANAGED_BY},
            "annotations": {"c8s.dev/why": why},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": ROLE},
        "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": system}],
    }


def manifest(namespace: str, system: str = SYSTEM_NAMESPACE) -> str:
    """The YAML stream `kubectl apply -f -` takes, with a header saying what it grants."""
    header = (
        f"# c8s onboarding of namespace {namespace}: lets {', '.join(a for a, _ in GRANTS)}\n"
        f"# (ServiceAccounts of {system}) get Secrets in {namespace}, and nothing else.\n"
        f"# Apply as a cluster admin: c8s team onboard {namespace} | kubectl apply -f -\n"
    )
    body = yaml.safe_dump_all(rolebindings(namespace, system), sort_keys=False, width=100)
    return header + "---\n" + body
