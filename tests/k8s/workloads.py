"""Small builders and readers for the Jobs and pods the k8s tests run on the test node."""

from __future__ import annotations

import uuid
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

Obj = dict[str, Any]


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def shell_container(script: str, name: str = "main", **extra: Any) -> Obj:
    return {"name": name, "image": "busybox:1.36", "command": ["sh", "-c", script], **extra}


def job(name: str, script: str, **spec: Any) -> Obj:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never", "containers": [shell_container(script)]}}, **spec},
    }


def pod(name: str, *containers: Obj, **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"restartPolicy": "Never", "containers": list(containers), **spec}}


def condition(obj: Any, kind: str) -> bool:
    """True when ``obj.status.conditions`` has ``kind`` with status True."""
    return any(c.type == kind and c.status == "True" for c in (obj.status.conditions or []))


async def gone(read: Any, *args: Any) -> bool:
    try:
        await read(*args)
    except ApiException as e:
        if e.status == 404:
            return True
        raise
    return False


async def job_pods(core: client.CoreV1Api, namespace: str, job_name: str) -> list[Any]:
    selector = f"batch.kubernetes.io/job-name={job_name}"
    pods = await core.list_namespaced_pod(namespace, label_selector=selector)
    return list(pods.items)
