"""Onboarding a team namespace: the RoleBindings that let c8s's services work in it.

No c8s service may read Secrets or create Jobs cluster-wide (deploy/200-rbac.yaml); a team
namespace lends each service that needs one its namespaced grant by binding a team ClusterRole of
deploy/210-team-roles.yaml (bound nowhere else) to exactly its ServiceAccount, one RoleBinding
each, so an operator can see and drop one:

- `c8s-team-secret-reader` (`get` on Secrets) to the webhook, notifier, log-shipper and admission;
- `c8s-team-step-runner` (create and patch Jobs, list and patch pods) to the scheduler, which runs
  the steps there. Cluster-wide, a compromised scheduler could start a pod under any
  ServiceAccount of any namespace (kube-system included) or rewrite a running pod's image;
- `c8s-team-job-stopper` (patch Jobs) to the job-watcher, which suspends a step's Job whose pod
  can never start. Cluster-wide, it could stop any Job of the cluster.

`GRANTS` is the single list of who gets what and why; tests/k8s/test_onboarding.py applies
`manifest()` on the real apiserver and checks the can-i matrix.

Invariant: the manifest is namespaced RoleBindings only — never a ClusterRoleBinding, never a
Secret verb beyond `get` — and is the same text for the same arguments (re-applying is a no-op).
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import yaml

SYSTEM_NAMESPACE = "c8s-system"
SECRET_READER = "c8s-team-secret-reader"
STEP_RUNNER = "c8s-team-step-runner"
JOB_STOPPER = "c8s-team-job-stopper"
MANAGED_BY = "c8s-team-onboard"


class Grant(NamedTuple):
    """A RoleBinding `c8s team onboard` prints: `account` (of the system namespace) gets `role`."""

    account: str
    role: str
    why: str


#: What `c8s team onboard` binds in a team namespace, one RoleBinding each.
GRANTS: tuple[Grant, ...] = (
    Grant("c8s-webhook", SECRET_READER, "verifies deliveries with the connection's webhookSecretRef"),
    Grant(
        "c8s-notifier",
        SECRET_READER,
        "posts commit statuses and registers hooks with the connection's authSecretRef "
        "token; reads the namespace's chat settings (Secret c8s-notifications)",
    ),
    Grant(
        "c8s-log-shipper",
        SECRET_READER,
        "masks the values of the run's secrets and git credentials in step logs",
    ),
    Grant(
        "c8s-admission",
        SECRET_READER,
        "checks that the Secrets a PipelineConfig or connection names exist with their keys",
    ),
    Grant("c8s-scheduler", STEP_RUNNER, "creates each step's Job here, and stops its pods on cancel"),
    Grant("c8s-job-watcher", JOB_STOPPER, "suspends a step's Job whose pod can never start"),
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
    return [_rolebinding(namespace, system, grant) for grant in GRANTS]


def _rolebinding(namespace: str, system: str, grant: Grant) -> dict[str, Any]:
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {
            "name": grant.account,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "c8s", "app.kubernetes.io/managed-by": MANAGED_BY},
            "annotations": {"c8s.dev/why": grant.why},
        },
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": grant.role},
        "subjects": [{"kind": "ServiceAccount", "name": grant.account, "namespace": system}],
    }


def manifest(namespace: str, system: str = SYSTEM_NAMESPACE) -> str:
    """The YAML stream `kubectl apply -f -` takes, with a header saying what it grants."""
    def who(role: str) -> str:
        return ", ".join(g.account for g in GRANTS if g.role == role)

    header = (
        f"# c8s onboarding of namespace {namespace}: lets {who(SECRET_READER)}\n"
        f"# (ServiceAccounts of {system}) get Secrets in {namespace}, {who(STEP_RUNNER)} run steps\n"
        f"# there (create and patch Jobs, list and patch pods) and {who(JOB_STOPPER)} suspend\n"
        f"# a step's Job; nothing else.\n"
        f"# Apply as a cluster admin: c8s team onboard {namespace} | kubectl apply -f -\n"
    )
    body = yaml.safe_dump_all(rolebindings(namespace, system), sort_keys=False, width=100)
    return header + "---\n" + body
