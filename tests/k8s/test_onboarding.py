"""Onboarding a team namespace (`c8s team onboard`) on the real apiserver, and what a namespace that
is not onboarded gets.

Covers: the printed manifest applies for real and re-applies unchanged; the Secret can-i matrix for
every c8s ServiceAccount — get/list/watch/create/update/delete in an onboarded namespace (only the
webhook, notifier, log-shipper and admission, and only `get`), and get/list/create in a namespace
that is not onboarded, in c8s-system and across all namespaces (nobody); with a real ServiceAccount
token, the Kubernetes store reads a Secret of an onboarded namespace, and in another one fails with
NotOnboarded naming the namespace and the command that fixes it; the admission webhook's decision
refuses a PipelineConfig naming a Secret there with 403 and that message, and admits it once onboarded.
Jobs: only the scheduler may create Jobs and patch pods, and the job-watcher patch Jobs, and only in
an onboarded namespace (the can-i matrix); with its real token the executor creates a step's Job
there, and elsewhere fails with NotOnboarded and creates nothing; the scheduler service, on a real
bus with that executor, rejects a run in a namespace that is not onboarded (reason NotOnboarded,
the fix in the message) and keeps serving.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import plane as plane_mod
import pytest
import yaml
from kubernetes_asyncio import client

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.kv.store import KvStore
from adapters.kube.client import KubeSettings, api_client
from adapters.kube.connection import KubeConnection
from adapters.kube.jobs import KubeExecutor
from adapters.kube.quotas import KubeQuotas
from adapters.kube.store import KubeStore
from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRun, PipelineRunSpec
from api.secret import Secret
from c8s.onboarding import GRANTS, JOB_STOPPER, SECRET_READER, STEP_RUNNER, manifest
from events.run import RunRejected
from ports.bus import run_history
from ports.resources import NotOnboarded
from services.admission.deciding import Admission
from services.admission.lookups import Lookups
from services.admission.reviews import read_request
from services.scheduler.service import Scheduler
from services.scheduler.service import serve as serve_scheduler
from steps.job_manifest import PodTools
from tests.k8s.executor.steps import plan_for
from tests.k8s.rbac import ACCOUNTS, SYSTEM, can_i, kubectl, rbac_applied
from tests.k8s.test_crds import crds  # noqa: F401 - the session fixture that applies the CRDs
from tests.k8s.waiting import eventually

pytestmark = pytest.mark.k8s

READERS = {g.account.removeprefix("c8s-") for g in GRANTS if g.role == SECRET_READER}
RUNNERS = {g.account.removeprefix("c8s-") for g in GRANTS if g.role == STEP_RUNNER}
STOPPERS = {g.account.removeprefix("c8s-") for g in GRANTS if g.role == JOB_STOPPER}


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
    """The onboarding manifest made one RoleBinding per grant, and applying it again changes nothing."""
    names = kubectl(teams.plane, "get", "rolebindings", "-n", teams.onboarded, "-o", "name",
                    "-l", "app.kubernetes.io/managed-by=c8s-team-onboard").stdout.split()
    assert sorted(names) == sorted(f"rolebinding.rbac.authorization.k8s.io/{g.account}" for g in GRANTS)
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


#: (verb, resource): the writes running steps takes, and the others it must not bring along.
RUNNER_WRITES = (("create", "jobs.batch"), ("patch", "jobs.batch"), ("patch", "pods"))
STEP_WRITES = (*RUNNER_WRITES, ("delete", "jobs.batch"), ("create", "pods"), ("delete", "pods"),
               ("update", "pods"))


@pytest.mark.parametrize("account", ACCOUNTS)
def test_step_rights_per_namespace(teams: Teams, account: str) -> None:
    """Only the scheduler may create and patch Jobs and patch pods, and the job-watcher patch Jobs, and
    only in an onboarded namespace."""
    places = (teams.onboarded, teams.other, SYSTEM, "kube-system", "")
    granted = {(ns or "*", verb, resource) for ns in places for verb, resource in STEP_WRITES
               if can_i(teams.plane, account, verb, resource, "", ns)}
    if account in RUNNERS:
        assert granted == {(teams.onboarded, v, r) for v, r in RUNNER_WRITES}
        # it lists a Job's pods to stop them, there only (others watch pods everywhere: read only)
        assert [can_i(teams.plane, account, "list", "pods", "", ns) for ns in places] == [
            True, False, False, False, False]
    elif account in STOPPERS:  # suspends a step's Job whose pod can never start
        assert granted == {(teams.onboarded, "patch", "jobs.batch")}
    else:
        assert granted == set()


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


@pytest.fixture
async def as_scheduler(teams: Teams, tmp_path: Path) -> AsyncIterator[KubeExecutor]:
    """The Kubernetes executor authenticated as c8s-scheduler (a real ServiceAccount token)."""
    connection = KubeConnection(_token_kubeconfig(teams, "scheduler", tmp_path))
    yield KubeExecutor(connection, PodTools())
    await connection.close()


async def _jobs(api: client.ApiClient, namespace: str) -> list[str]:
    batch: Any = client.BatchV1Api(api)
    return [j.metadata.name for j in (await batch.list_namespaced_job(namespace)).items]


@pytest.mark.usefixtures("crds")
async def test_scheduler_creates_jobs_only_in_an_onboarded_namespace(
        teams: Teams, as_scheduler: KubeExecutor, k8s_api: client.ApiClient) -> None:
    """With its own token, the executor creates a step's Job in an onboarded namespace; in another it
    fails with NotOnboarded, naming the namespace and the fix, creates nothing, and cannot cancel."""
    repo = ("https://example.com/org/app", "0" * 40)
    plan = await plan_for(k8s_api, teams.onboarded, repo, "true")
    assert await as_scheduler.start(plan) == plan.ref.job_name
    assert plan.ref.job_name in await _jobs(k8s_api, teams.onboarded)
    await as_scheduler.cancel(plan.ref)  # annotates the Job: allowed there

    elsewhere = await plan_for(k8s_api, teams.other, repo, "true")
    with pytest.raises(NotOnboarded) as refused:
        await as_scheduler.start(elsewhere)
    fix = f"run `c8s team onboard {teams.other} | kubectl apply -f -`"
    assert str(refused.value).startswith(f"namespace {teams.other} is not onboarded to c8s: {fix}")
    assert f"creating Job {teams.other}/{elsewhere.ref.job_name}" in str(refused.value)
    assert "c8s-scheduler" in str(refused.value)  # the apiserver's own words follow
    assert await _jobs(k8s_api, teams.other) == []
    with pytest.raises(NotOnboarded):
        await as_scheduler.cancel(elsewhere.ref)


async def test_scheduler_rejects_a_run_in_a_namespace_not_onboarded(
        teams: Teams, as_scheduler: KubeExecutor, bus: NatsBus, k8s_api: client.ApiClient) -> None:
    """The scheduler, creating Jobs with its own token, ends a run where the namespace refuses them as
    rejected (NotOnboarded, the fix in the message) and keeps serving: no crash, no retry loop."""
    store = KvStore.from_connection(bus.connection)
    await store.ensure_buckets()
    spec = PipelineConfigSpec(repository="https://example.com/org/app",
                              steps=[Step(name="build", image="alpine", commands=["true"])])
    await store.create(PipelineConfig(metadata=ObjectMeta(name="app-ci", namespace=teams.other), spec=spec))
    run = await store.create(PipelineRun(metadata=ObjectMeta(name="app-ci-1", namespace=teams.other),
                                         spec=PipelineRunSpec(pipeline_config_ref="app-ci", commit="a" * 40)))
    stop = asyncio.Event()
    scheduler = Scheduler(bus, store, as_scheduler, timedelta(seconds=5))
    task = asyncio.create_task(serve_scheduler(scheduler, stop, 0.1))

    async def rejected() -> RunRejected | None:
        history = await run_history(bus, teams.other, "app-ci-1", run.metadata.uid)
        return next((r.event for r in history if isinstance(r.event, RunRejected)), None)

    event = await eventually(rejected, what="the run rejected")
    assert event.reason == "NotOnboarded"
    assert event.message.startswith(f"namespace {teams.other} is not onboarded to c8s: run `c8s team onboard")
    assert not task.done() and await _jobs(k8s_api, teams.other) == []
    stop.set()
    await asyncio.wait_for(task, 10)
