"""Jobs on the real control plane: the job controller runs them through the test node agent, pod
status carries the real exit code, logs are readable through pods/log (API and kubectl), the
ttl-after-finished controller deletes finished Jobs and the garbage collector deletes owned ones."""

from __future__ import annotations

import pytest
from kubernetes_asyncio import client

from tests.k8s.conftest import Kubectl
from tests.k8s.waiting import eventually
from tests.k8s.workloads import condition, gone, job, job_pods, unique

pytestmark = pytest.mark.k8s


async def finished_job(api: client.ApiClient, namespace: str, script: str, **spec: object) -> str:
    batch = client.BatchV1Api(api)
    name = unique("job")
    await batch.create_namespaced_job(namespace, job(name, script, **spec))

    async def finished() -> bool:
        j = await batch.read_namespaced_job(name, namespace)
        return condition(j, "Complete") or condition(j, "Failed")

    await eventually(finished, what=f"Job {name} to finish")
    return name


async def test_failing_job_reports_the_exit_code(k8s_api: client.ApiClient, namespace: str) -> None:
    """A Job running `echo hi; exit 3` ends Failed, its pod Failed with exit code 3 and reason Error."""
    name = await finished_job(k8s_api, namespace, "echo hi; exit 3")
    j = await client.BatchV1Api(k8s_api).read_namespaced_job(name, namespace)
    assert condition(j, "Failed") and not condition(j, "Complete")
    [p] = await job_pods(client.CoreV1Api(k8s_api), namespace, name)
    assert p.status.phase == "Failed"
    [status] = p.status.container_statuses
    terminated = status.state.terminated
    assert (terminated.exit_code, terminated.reason) == (3, "Error")
    assert terminated.started_at <= terminated.finished_at


async def test_succeeding_job_completes(k8s_api: client.ApiClient, namespace: str) -> None:
    """A Job whose command exits 0 ends Complete with its pod Succeeded and reason Completed."""
    name = await finished_job(k8s_api, namespace, "exit 0")
    j = await client.BatchV1Api(k8s_api).read_namespaced_job(name, namespace)
    assert condition(j, "Complete")
    [p] = await job_pods(client.CoreV1Api(k8s_api), namespace, name)
    assert p.status.phase == "Succeeded"
    assert p.status.container_statuses[0].state.terminated.reason == "Completed"


async def test_job_output_through_pods_log(
    k8s_api: client.ApiClient, namespace: str, kubectl: Kubectl
) -> None:
    """The output of a Job's pod is readable through pods/log, with the API client and with kubectl logs."""
    name = await finished_job(k8s_api, namespace, "echo hi; exit 3")
    core = client.CoreV1Api(k8s_api)
    [p] = await job_pods(core, namespace, name)
    assert await core.read_namespaced_pod_log(p.metadata.name, namespace, container="main") == "hi\n"
    result = await kubectl("logs", "-n", namespace, f"job/{name}")
    assert result.stdout == "hi\n"


async def test_ttl_after_finished_deletes_the_job(k8s_api: client.ApiClient, namespace: str) -> None:
    """A Job with ttlSecondsAfterFinished is kept until it finishes, then deleted by its controller."""
    # Long enough for the poll to see the finished Job before the controller deletes it.
    name = await finished_job(k8s_api, namespace, "true", ttlSecondsAfterFinished=3)
    batch = client.BatchV1Api(k8s_api)
    await eventually(lambda: gone(batch.read_namespaced_job, name, namespace), what=f"Job {name} deleted")


async def test_deleting_the_owner_collects_its_jobs(k8s_api: client.ApiClient, namespace: str) -> None:
    """Jobs owned by a ConfigMap, one still running, are garbage-collected with their pods."""
    core, batch = client.CoreV1Api(k8s_api), client.BatchV1Api(k8s_api)
    owner = await core.create_namespaced_config_map(namespace, {"metadata": {"name": unique("owner")}})
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": owner.metadata.name, "uid": owner.metadata.uid}
    names = [unique("owned"), unique("owned")]
    for name, script in zip(names, ["true", "sleep 600"], strict=True):
        body = job(name, script)
        body["metadata"]["ownerReferences"] = [ref]
        await batch.create_namespaced_job(namespace, body)

    async def running() -> bool:
        pods = await job_pods(core, namespace, names[1])
        return bool(pods) and pods[0].status.phase == "Running"

    await eventually(running, what="the long Job's pod to run")
    await core.delete_namespaced_config_map(owner.metadata.name, namespace)
    for name in names:
        await eventually(lambda n=name: gone(batch.read_namespaced_job, n, namespace),
                         what=f"Job {name} collected")

    async def no_pods() -> bool:
        return not (await core.list_namespaced_pod(namespace)).items

    await eventually(no_pods, what="the Jobs' pods to be deleted")
