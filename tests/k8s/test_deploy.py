"""deploy/ on the real apiserver: the kustomize base applies, and each service account holds exactly
the verbs its service needs.

Covers: `kubectl apply --server-side --dry-run=server -k deploy/` succeeds once the namespace and the
CRDs exist for real (a dry run creates nothing, so objects in c8s-system would not find their
namespace otherwise); the same for the base with the nats-cluster component; a table of allowed and
denied verbs per service account through `kubectl auth can-i --as=system:serviceaccount:...` with
the groups a real token carries (the projector may patch the status subresources and not the
objects, nothing may create ClusterRoleBindings, bind or escalate roles, impersonate, or change
admission webhooks; nobody reads Secrets, creates Jobs or patches pods in a namespace that is not
onboarded: test_onboarding.py has the Secret and Job matrices of onboarded namespaces).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import plane as plane_mod
import pytest
import yaml

from tests.k8s.rbac import ACCOUNTS, DEPLOY, can_i, kubectl, rbac_applied

pytestmark = pytest.mark.k8s

TEAM = "team-a"  # can-i needs no such namespace: RBAC is evaluated, nothing is read (not onboarded)


@pytest.fixture(scope="module")
def foundations(control_plane: plane_mod.Plane) -> Iterator[plane_mod.Plane]:
    """The namespace, the RBAC objects and the CRDs, applied for real; RBAC and namespace removed after."""
    with rbac_applied(control_plane, DEPLOY / "300-crds"):
        kubectl(control_plane, "wait", "--for=condition=Established", "--timeout=60s",
                *(f"crd/{p}.c8s.dev" for p in ("pipelineconfigs", "pipelineruns", "repositoryconnections")))
        yield control_plane


def test_base_applies_in_a_server_side_dry_run(foundations: plane_mod.Plane) -> None:
    """Every object of the kustomize base passes the apiserver's validation in a server-side dry run."""
    result = kubectl(foundations, "apply", "--server-side", "--dry-run=server", "-k", str(DEPLOY))
    applied = result.stdout.splitlines()
    expected_objects = (
        "deployment.apps/c8s-admission",
        "statefulset.apps/nats",
        "clusterrole.rbac.authorization.k8s.io/c8s-scheduler",
        "validatingwebhookconfiguration.admissionregistration.k8s.io/c8s-admission",
        "customresourcedefinition.apiextensions.k8s.io/pipelineruns.c8s.dev",
    )
    for expected in expected_objects:
        assert any(line.startswith(expected) for line in applied), f"{expected} missing in:\n{result.stdout}"
    assert len(applied) == sum(1 for _ in _kustomized(foundations).split("\n---\n"))


def test_nats_cluster_component_applies_in_a_dry_run(foundations: plane_mod.Plane, tmp_path: Path) -> None:
    """The base plus the nats-cluster component renders 3 NATS servers with R3 streams and dry-runs."""
    base = os.path.relpath(DEPLOY, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{base}]\ncomponents: [{base}/overlays/nats-cluster]\n")
    rendered = kubectl(foundations, "kustomize", str(tmp_path)).stdout
    assert "replicas: 3" in rendered and 'C8S_STREAM_REPLICAS: "3"' in rendered
    assert "--routes=nats://nats-0.nats-headless.c8s-system.svc:6222" in rendered
    kubectl(foundations, "apply", "--server-side", "--dry-run=server", "-k", str(tmp_path))


def test_local_image_component_runs_every_c8s_container_on_the_loaded_image(
    foundations: plane_mod.Plane, tmp_path: Path
) -> None:
    """The base plus local-image: every c8s container and the step pods' artifacts image are c8s:dev
    (nothing left on the published image, which a kind cluster would try to pull), and it dry-runs."""
    base = os.path.relpath(DEPLOY, tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{base}]\ncomponents: [{base}/overlays/local-image]\n")
    rendered = kubectl(foundations, "kustomize", str(tmp_path)).stdout
    deployments = [d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"]
    pods = [d["spec"]["template"]["spec"] for d in deployments]
    containers = [c for pod in pods for c in pod["containers"]]
    assert len(containers) >= 8 and {c["image"] for c in containers} == {"c8s:dev"}
    env = {e["name"]: e.get("value") for c in containers if c["name"] == "scheduler" for e in c["env"]}
    assert env["C8S_ARTIFACTS_IMAGE"] == "c8s:dev" and "C8S_ARTIFACT_UPLOAD_KEY" in env
    assert "ghcr.io/c8s-dev/c8s" not in rendered
    kubectl(foundations, "apply", "--server-side", "--dry-run=server", "-k", str(tmp_path))


SCALED = ("webhook", "scheduler", "job-watcher", "log-shipper", "projector", "notifier", "admission")


def test_every_service_runs_two_replicas_under_a_disruption_budget(foundations: plane_mod.Plane) -> None:
    """Each long-running service's Deployment has 2 replicas and a PodDisruptionBudget keeping one up."""
    docs = [d for d in yaml.safe_load_all(_kustomized(foundations)) if d]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    budgets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "PodDisruptionBudget"}
    for service in SCALED:
        name = f"c8s-{service}"
        deployment, budget = deployments[name], budgets.get(name)
        assert deployment["spec"]["replicas"] >= 2, name
        assert budget is not None, f"no PodDisruptionBudget for {name}"
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = budget["spec"]["selector"]["matchLabels"]
        assert selector.items() <= pod_labels.items() and budget["spec"]["minAvailable"] == 1, name


def _kustomized(plane: plane_mod.Plane) -> str:
    return kubectl(plane, "kustomize", str(DEPLOY)).stdout.strip()


# (service account, verb, resource, subresource, namespace, allowed)
ALLOWED_AND_DENIED = [
    ("scheduler", "create", "jobs.batch", "", TEAM, False),  # only once TEAM is onboarded
    ("scheduler", "create", "jobs.batch", "", "kube-system", False),
    ("scheduler", "delete", "jobs.batch", "", TEAM, False),
    ("scheduler", "watch", "pipelineruns.c8s.dev", "", "", True),
    ("scheduler", "get", "pipelineconfigs.c8s.dev", "", TEAM, True),
    ("scheduler", "list", "resourcequotas", "", TEAM, True),
    ("scheduler", "patch", "pods", "", TEAM, False),  # only once TEAM is onboarded
    ("scheduler", "patch", "pods", "", "kube-system", False),
    ("scheduler", "create", "secrets", "", TEAM, False),
    ("scheduler", "get", "secrets", "", TEAM, False),
    ("scheduler", "patch", "pipelineruns.c8s.dev", "", TEAM, False),
    ("scheduler", "patch", "pipelineruns.c8s.dev", "status", TEAM, False),
    ("webhook", "create", "pipelineruns.c8s.dev", "", TEAM, True),
    ("webhook", "watch", "repositoryconnections.c8s.dev", "", "", True),
    ("webhook", "get", "secrets", "", TEAM, False),  # only once TEAM is onboarded
    ("webhook", "create", "jobs.batch", "", TEAM, False),
    ("webhook", "delete", "pipelineruns.c8s.dev", "", TEAM, False),
    ("webhook", "list", "secrets", "", TEAM, False),
    ("projector", "patch", "pipelineruns.c8s.dev", "status", TEAM, True),
    ("projector", "patch", "pipelineconfigs.c8s.dev", "status", TEAM, True),
    ("projector", "patch", "repositoryconnections.c8s.dev", "status", TEAM, True),
    ("projector", "get", "pipelineruns.c8s.dev", "", TEAM, True),
    ("projector", "patch", "pipelineruns.c8s.dev", "", TEAM, False),
    ("projector", "create", "pipelineruns.c8s.dev", "", TEAM, False),
    ("projector", "get", "secrets", "", TEAM, False),
    ("projector", "create", "jobs.batch", "", TEAM, False),
    ("job-watcher", "watch", "jobs.batch", "", "", True),
    ("job-watcher", "watch", "pods", "", "", True),
    ("job-watcher", "create", "jobs.batch", "", TEAM, False),
    ("job-watcher", "patch", "jobs.batch", "", TEAM, False),  # only once TEAM is onboarded
    ("job-watcher", "get", "pods", "log", TEAM, False),
    ("job-watcher", "get", "secrets", "", TEAM, False),
    ("log-shipper", "get", "pods", "log", TEAM, True),
    ("log-shipper", "get", "secrets", "", TEAM, False),  # only once TEAM is onboarded
    ("log-shipper", "delete", "pods", "", TEAM, False),
    ("log-shipper", "create", "jobs.batch", "", TEAM, False),
    ("notifier", "patch", "repositoryconnections.c8s.dev", "status", TEAM, True),
    ("notifier", "watch", "pipelineruns.c8s.dev", "", "", True),
    ("notifier", "get", "secrets", "", TEAM, False),  # only once TEAM is onboarded
    ("notifier", "patch", "pipelineruns.c8s.dev", "status", TEAM, False),
    ("notifier", "create", "pipelineruns.c8s.dev", "", TEAM, False),
    ("admission", "get", "secrets", "", TEAM, False),  # only once TEAM is onboarded
    ("admission", "list", "resourcequotas", "", TEAM, True),
    ("admission", "get", "pipelineconfigs.c8s.dev", "", TEAM, True),
    ("admission", "list", "secrets", "", TEAM, False),
    ("admission", "create", "pipelineruns.c8s.dev", "", TEAM, False),
    ("dashboard", "get", "pipelineruns.c8s.dev", "", TEAM, True),
    ("dashboard", "patch", "pipelineruns.c8s.dev", "", TEAM, True),
    ("dashboard", "create", "pipelineruns.c8s.dev", "", TEAM, True),
    ("dashboard", "create", "subjectaccessreviews.authorization.k8s.io", "", "", True),
    ("dashboard", "create", "tokenreviews.authentication.k8s.io", "", "", True),
    ("dashboard", "patch", "pipelineruns.c8s.dev", "status", TEAM, False),
    ("dashboard", "get", "secrets", "", TEAM, False),
    ("dashboard", "get", "pods", "log", TEAM, False),
]
# Nobody may grow its own rights or weaken admission.
FORBIDDEN_TO_ALL = [
    ("create", "clusterrolebindings.rbac.authorization.k8s.io", ""),
    ("create", "rolebindings.rbac.authorization.k8s.io", TEAM),
    ("bind", "clusterroles.rbac.authorization.k8s.io", ""),
    ("escalate", "clusterroles.rbac.authorization.k8s.io", ""),
    ("escalate", "roles.rbac.authorization.k8s.io", TEAM),
    ("impersonate", "serviceaccounts", TEAM),
    ("patch", "validatingwebhookconfigurations.admissionregistration.k8s.io", ""),
    ("update", "customresourcedefinitions.apiextensions.k8s.io", ""),
    ("create", "pods", TEAM),
    ("delete", "namespaces", ""),
]


@pytest.mark.parametrize(("account", "verb", "resource", "sub", "namespace", "allowed"), ALLOWED_AND_DENIED,
                         ids=lambda v: str(v) if v != "" else "-")
def test_service_account_rights(foundations: plane_mod.Plane, account: str, verb: str, resource: str,
                                sub: str, namespace: str, allowed: bool) -> None:
    """Each service account may do what its service needs, and is refused the neighbouring verbs."""
    assert can_i(foundations, account, verb, resource, sub, namespace) is allowed


@pytest.mark.parametrize("account", ACCOUNTS)
def test_no_account_can_grow_its_rights(foundations: plane_mod.Plane, account: str) -> None:
    """No service account may bind, escalate, impersonate, edit webhooks or CRDs, or create pods."""
    granted = [(verb, resource) for verb, resource, ns in FORBIDDEN_TO_ALL
               if can_i(foundations, account, verb, resource, "", ns)]
    assert granted == []
