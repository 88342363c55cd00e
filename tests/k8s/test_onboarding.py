"""Onboarding a team namespace (`c8s team onboard`) on the real apiserver, and what a namespace that
is not onboarded gets.

Covers: the printed manifest applies for real and re-applies unchanged; the Secret can-i matrix for
every c8s ServiceAccount — get/list/watch/create/update/delete in an onboarded namespace (only the
webhook, notifier, log-shipper and admission, and only `get`), and get/list/create in a namespace
that is not onboarded, in c8s-system and across all namespaces (nobody); with a real ServiceAccount
token, the Kubernetes store reads a Secret of an onboarded namespace, and in another one fails with
NotOnboarded naming the namespace and the command that fixes it; the admission webhook's decision
refuses a PipelineConfig naming a Secret there with 403 and that message, and admits it once onboarded.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import plane as plane_mod
import pytest
import yaml

from adapters.kube.client import KubeSettings, api_client
from adapters.kube.quotas import KubeQuotas
from adapters.kube.store import KubeStore
from api.secret import Secret
from c8s.onboarding import GRANTS, manifest
from ports.resources import NotOnboarded
from services.admission.deciding import Admission
from services.admission.lookups import Lookups
from services.admission.reviews import read_request
from tests.k8s.rbac import ACCOUNTS, SYSTEM, can_i, kubectl, rbac_applied

pytestmark = pytest.mark.k8s

READERS = {account.removeprefix("c8s-") for account, _ in GRANTS}


@dataclass(frozen=True)
class Teams:
    plane: plane_mod.Plane
    onboarded: str
    other: str


@pytest.fixture(scope="module")
def teams(control_plane: plane_mod.Plane) -> Iterator[Teams]:
    """deploy/'s RBAC, two team namespaces with a Secret `hook` each, the first onboarded for real."""
    suffix = uuid.uuid4().hex[:6]
    found = Teams(control_plane, f"team-on-{suffix}", f"team-off-{suffix}")
    with rbac_applied(control_plane):
        for ns in (found.onboarded, found.other):
            kubectl(control_plane, "create", "namespace", ns)
            kubectl(control_plane, "create", "secret", "generic", "hook", "-n", ns, "--from-literal=token=t")
        kubectl(control_plane, "apply", "-f", "-", stdin=manifest(found.onboarded))
        yield found
        kubectl(control_plane, "delete", "namespace", "--wait=false", found.onboarded, found.other)


def test_manifest_applies_for_real_and_reapplies_unchanged(teams: Teams) -> None:
    """The onboarding manifest made one RoleBinding per reader, and applying it again changes nothing."""
    names = kubectl(teams.plane, "get", "rolebindings", "-n", teams.onboarded, "-o", "name",
                    "-l", "app.kubernetes.io/managed-by=c8s-team-onboard").stdout.split()
    assert sorted(names) == sorted(f"rolebinding.rbac.authorization.k8s.io/{a}" for a, _ in GRANTS)
    again = kubectl(teams.plane, "apply", "-f", "-", stdin=manifest(teams.onboarded)).stdout.splitlines()
    assert len(again) == len(GRANTS) and all(line.endswith(" unchanged") for line in again), again


ONBOARDED_VERBS = ("get", "list", "watch", "create", "update", "delete")
ELSEWHERE_VERBS = ("get", "list", "create")


@pytest.mark.parametrize("account", ACCOUNTS)
def test_secret_rights_per_namespace(teams: Teams, account: str) -> None:
    """Only the readers may get (and only get) Secrets, and only in an onboarded namespace."""
    places = [(teams.onboarded, ONBOARDED_VERBS), (teams.other, ELSEWHERE_VERBS), (SYSTEM, ELSEWHERE_VERBS),
              ("", ELSEWHERE_VERBS)]
    granted = {(ns or "*", verb) for ns, verbs in places for verb in verbs
               if can_i(teams.plane, account, verb, "secrets", "", ns)}
    expected = {(teams.onboarded, "get")} if account in READERS else set()
    assert granted == expected


def _token_kubeconfig(teams: Teams, account: str, directory: Path) -> str:
    """A kubeconfig for the plane that authenticates as ServiceAccount c8s-`account` (a real token)."""
    token = kubectl(teams.plane, "create", "token", f"c8s-{account}", "-n", SYSTEM).stdout.strip()
    config = yaml.safe_load(teams.plane.kubeconfig.read_text())
    for user in config["users"]:
        user["user"] = {"token": token}
    path = directory / f"{account}.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@dataclass(frozen=True)
class AsService:
    store: KubeStore
    quotas: KubeQuotas


@pytest.fixture
async def as_service(teams: Teams, tmp_path: Path) -> AsyncIterator[dict[str, AsService]]:
    """The Kubernetes store (and quotas) authenticated as c8s-webhook and as c8s-admission."""
    clients = {}
    for account in ("webhook", "admission"):
        settings = KubeSettings(kubeconfig=_token_kubeconfig(teams, account, tmp_path))
        api = await api_client(settings)
        clients[account] = AsService(KubeStore(api, settings, owns_client=True), KubeQuotas(api))
    yield clients
    for service in clients.values():
        await service.store.close()


async def test_service_reads_a_secret_of_an_onboarded_namespace(teams: Teams,
                                                                 as_service: dict[str, AsService]) -> None:
    """With its own token, the webhook reads a Secret of an onboarded namespace."""
    secret = await as_service["webhook"].store.get(Secret, teams.onboarded, "hook")
    assert set(secret.data) == {"token"}


async def test_not_onboarded_names_the_namespace_and_the_fix(teams: Teams,
                                                             as_service: dict[str, AsService]) -> None:
    """A Secret read in a namespace that is not onboarded fails with the namespace and the command."""
    with pytest.raises(NotOnboarded) as refused:
        await as_service["webhook"].store.get(Secret, teams.other, "hook")
    assert refused.value.namespace == teams.other
    fix = f"run `c8s team onboard {teams.other} | kubectl apply -f -`"
    assert str(refused.value).startswith(f"namespace {teams.other} is not onboarded to c8s: {fix}")
    assert "c8s-webhook" in str(refused.value)  # the apiserver's own words follow


def _review(namespace: str) -> bytes:
    config = {"apiVersion": "c8s.dev/v1alpha1", "kind": "PipelineConfig",
              "metadata": {"name": "app-ci", "namespace": namespace},
              "spec": {"repository": "https://github.com/org/app", "steps": [
                  {"name": "push", "image": "alpine", "commands": ["true"],
                   "secrets": [{"secretRef": "hook", "key": "token", "envVar": "TOKEN"}]}]}}
    return json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": "u-1", "kind": {"group": "c8s.dev", "version": "v1alpha1", "kind": "PipelineConfig"},
        "operation": "CREATE", "namespace": namespace, "object": config, "userInfo": {}}}).encode()


async def test_admission_refuses_with_the_fix_until_onboarded(teams: Teams,
                                                              as_service: dict[str, AsService]) -> None:
    """As c8s-admission, a config naming a Secret is refused with 403 and the fix; admitted once onboarded."""
    service = as_service["admission"]
    admission = Admission(Lookups(service.store, service.quotas))
    refused = await admission.review(read_request(_review(teams.other)))
    assert (refused.allowed, refused.code) == (False, 403)
    fix = f"not onboarded to c8s: run `c8s team onboard {teams.other} | kubectl apply -f -`"
    assert fix in refused.message
    assert (await admission.review(read_request(_review(teams.onboarded)))).allowed
