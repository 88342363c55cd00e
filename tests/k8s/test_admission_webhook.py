"""The admission webhook registered with the real apiserver: objects are created through the API and
refused (4xx, with the webhook's message) or admitted.

The service runs in-process on 127.0.0.1 with a self-signed certificate; deploy/'s
ValidatingWebhookConfiguration is registered with a `url` clientConfig to it (the plane has no
service network) and a namespaceSelector limited to the test's namespace, so other tests never
reach it. Covers: PipelineConfig with a missing Secret, a Secret without the key, a step over the
ResourceQuota, a dependency cycle, and a valid one; PipelineRun of a missing config, over the quota,
and a valid one; a cancel (spec update) and a status write pass after the config is gone, and so
does a delete; RepositoryConnection whose webhook Secret lacks `webhook-secret`, whose auth Secret
lacks credentials, whose config is missing, and a valid one.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from adapters.kube.client import KubeSettings
from adapters.kube.quotas import KubeQuotas
from adapters.kube.store import KubeStore
from services.admission.deciding import Admission
from services.admission.lookups import Lookups
from services.admission.service import listening, make_app, tls_context
from tests.k8s.test_crds import crds  # noqa: F401 - the session fixture that applies the CRDs
from tests.k8s.waiting import eventually

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("crds")]

REPO = Path(__file__).resolve().parents[2]
GROUP, VERSION = "c8s.dev", "v1alpha1"
Obj = dict[str, Any]
MERGE = "application/merge-patch+json"


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A self-signed serving certificate for 127.0.0.1 (it is its own CA bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "c8s-admission")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                       critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "tls.crt", directory / "tls.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def registration(name: str, namespace: str, port: int, ca: bytes) -> Obj:
    """deploy/'s ValidatingWebhookConfiguration, pointed at the in-process service and one namespace."""
    text = (REPO / "deploy" / "590-admission-webhook.yaml").read_text()
    doc: Obj = next(d for d in yaml.safe_load_all(text) if d)
    doc["metadata"] = {"name": name}
    for hook in doc["webhooks"]:
        hook["clientConfig"] = {"url": f"https://127.0.0.1:{port}/validate",
                                "caBundle": base64.b64encode(ca).decode()}
        hook["namespaceSelector"] = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    return doc


class Cluster:
    def __init__(self, api: client.ApiClient, namespace: str) -> None:
        self.api, self.ns = api, namespace
        # Any: the client's typed models are not used here; bodies are plain JSON objects.
        self.custom: Any = client.CustomObjectsApi(api)
        self.core: Any = client.CoreV1Api(api)

    async def create(self, kind: str, name: str, spec: Obj) -> Obj:
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}
        plural = _plural(kind)
        result: Obj = await self.custom.create_namespaced_custom_object(GROUP, VERSION, self.ns, plural, body)
        return result

    async def refused(self, kind: str, name: str, spec: Obj) -> str:
        """The apiserver's message when creating the object fails with a 4xx; fails if it is created."""
        with pytest.raises(ApiException) as caught:
            await self.create(kind, name, spec)
        assert caught.value.status == 422, caught.value
        message: str = json.loads(caught.value.body or "{}")["message"]
        return message

    async def secret(self, name: str, data: dict[str, str]) -> None:
        await self.core.create_namespaced_secret(self.ns, {"metadata": {"name": name}, "stringData": data})

    async def quota(self, hard: dict[str, str]) -> None:
        await self.core.create_namespaced_resource_quota(
            self.ns, {"metadata": {"name": "team-quota"}, "spec": {"hard": hard}})


def _plural(kind: str) -> str:
    return {"PipelineConfig": "pipelineconfigs", "PipelineRun": "pipelineruns",
            "RepositoryConnection": "repositoryconnections"}[kind]


def pipeline(*steps: Obj) -> Obj:
    return {"repository": "https://github.com/org/app", "steps": list(steps)}


def step(name: str, **extra: Any) -> Obj:
    return {"name": name, "image": "alpine", "commands": ["true"], **extra}


RUN = {"pipelineConfigRef": "app-ci", "commit": "abc1234"}
CYCLE = pipeline(step("a", dependsOn=["b"]), step("b", dependsOn=["a"]))


@pytest.fixture
async def cluster(k8s_api: client.ApiClient, namespace: str, tmp_path: Path) -> AsyncIterator[Cluster]:
    """The admission service in-process, registered for `namespace`; unregistered afterwards."""
    cert, key = self_signed(tmp_path)
    store = KubeStore(k8s_api, KubeSettings())
    app = make_app(Admission(Lookups(store, KubeQuotas(k8s_api))), deadline_seconds=8.0)
    hooks: Any = client.AdmissionregistrationV1Api(k8s_api)
    name = f"c8s-admission-{namespace}"
    async with listening(app, "127.0.0.1", 0, tls_context(str(cert), str(key))) as port:
        await hooks.create_validating_webhook_configuration(
            registration(name, namespace, port, cert.read_bytes()))
        try:
            here = Cluster(k8s_api, namespace)
            await eventually(lambda: _webhook_answers(here), what="the apiserver calling the webhook")
            yield here
        finally:
            await hooks.delete_validating_webhook_configuration(name)
            await store.close()


async def _webhook_answers(cluster: Cluster) -> bool:
    """True once a cycle (which only the webhook refuses, not the CRD schema) is refused."""
    try:
        await cluster.create("PipelineConfig", "probe", CYCLE)
    except ApiException as e:
        return "admission webhook" in str(e.body) and "dependency cycle" in str(e.body)
    await cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, cluster.ns, "pipelineconfigs",
                                                         "probe")
    return False


async def test_config_with_a_missing_secret_is_refused(cluster: Cluster) -> None:
    """A PipelineConfig referencing a Secret that does not exist is refused, naming the field and the fix."""
    spec = pipeline(step("push", secrets=[{"secretRef": "registry", "key": "token"}]))
    message = await cluster.refused("PipelineConfig", "app-ci", spec)
    assert 'denied the request' in message
    assert 'spec.steps[0].secrets[0].secretRef: Secret "registry" does not exist' in message
    assert "kubectl create secret generic registry" in message


async def test_config_with_a_secret_lacking_the_key_is_refused(cluster: Cluster) -> None:
    """A PipelineConfig whose Secret exists without the referenced key is refused at the key field."""
    await cluster.secret("registry", {"user": "u"})
    spec = pipeline(step("push", secrets=[{"secretRef": "registry", "key": "token"}]))
    message = await cluster.refused("PipelineConfig", "app-ci", spec)
    assert 'spec.steps[0].secrets[0].key: Secret "registry" has no key "token" (it has user)' in message


async def test_config_over_the_quota_is_refused(cluster: Cluster) -> None:
    """A step asking for more CPU than the namespace's ResourceQuota allows is refused."""
    await cluster.quota({"requests.cpu": "2", "requests.memory": "4Gi"})
    message = await cluster.refused("PipelineConfig", "app-ci", pipeline(step("big", resources={"cpu": "3"})))
    assert "spec.steps[0].resources.cpu" in message
    assert 'allows at most 2 (requests.cpu)' in message


async def test_config_with_a_cycle_is_refused(cluster: Cluster) -> None:
    """A dependency cycle is refused with the same message `c8s validate` prints."""
    message = await cluster.refused("PipelineConfig", "app-ci", CYCLE)
    assert "dependency cycle a -> b -> a" in message


async def test_valid_config_and_run_are_admitted(cluster: Cluster) -> None:
    """A config whose secrets and resources check out, and a run of it within the quota, are created."""
    await cluster.secret("registry", {"token": "t"})
    await cluster.quota({"requests.cpu": "4", "limits.memory": "8Gi"})
    spec = pipeline(step("a", resources={"cpu": "1"}), step("push", secrets=[{"secretRef": "registry",
                                                                                "key": "token"}]))
    created = await cluster.create("PipelineConfig", "app-ci", spec)
    assert created["metadata"]["uid"]
    run = await cluster.create("PipelineRun", "app-ci-1", RUN)
    assert run["spec"]["pipelineConfigRef"] == "app-ci"


async def test_run_of_a_missing_config_is_refused(cluster: Cluster) -> None:
    """A PipelineRun whose pipelineConfigRef names no PipelineConfig in its namespace is refused."""
    message = await cluster.refused("PipelineRun", "app-ci-1", RUN)
    assert 'spec.pipelineConfigRef: PipelineConfig "app-ci" does not exist in namespace' in message


async def test_run_over_the_quota_is_refused(cluster: Cluster) -> None:
    """A run whose steps together request more memory than the quota allows is refused."""
    await cluster.create("PipelineConfig", "app-ci", pipeline(step("a"), step("b"), step("c")))
    await cluster.quota({"requests.memory": "2Gi"})
    message = await cluster.refused("PipelineRun", "app-ci-1", RUN)
    assert "request memory 3Gi in total" in message and "allows at most 2Gi" in message


async def test_cancel_status_and_delete_pass_once_the_config_is_gone(cluster: Cluster) -> None:
    """After its config is deleted a run can still be cancelled, get a status, and be deleted."""
    await cluster.create("PipelineConfig", "app-ci", pipeline(step("a")))
    await cluster.create("PipelineRun", "app-ci-1", RUN)
    custom, ns = cluster.custom, cluster.ns
    await custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "pipelineconfigs", "app-ci")
    patch = {"spec": {"cancelRequested": True}}
    await custom.patch_namespaced_custom_object(GROUP, VERSION, ns, "pipelineruns", "app-ci-1", patch,
                                                _content_type=MERGE)
    status = {"status": {"phase": "Cancelled", "observedSequence": 3}}
    await custom.patch_namespaced_custom_object_status(GROUP, VERSION, ns, "pipelineruns", "app-ci-1", status,
                                                       _content_type=MERGE)
    await custom.delete_namespaced_custom_object(GROUP, VERSION, ns, "pipelineruns", "app-ci-1")


async def test_connection_webhook_secret_needs_its_key(cluster: Cluster) -> None:
    """A RepositoryConnection whose webhook Secret lacks `webhook-secret` is refused."""
    await cluster.secret("hook", {"secret": "s"})
    spec = {"repository": "https://github.com/org/app", "provider": "github", "webhookSecretRef": "hook"}
    message = await cluster.refused("RepositoryConnection", "app", spec)
    assert 'spec.webhookSecretRef: Secret "hook" must hold "webhook-secret" (it has secret)' in message


async def test_connection_auth_secret_and_config_are_checked(cluster: Cluster) -> None:
    """An auth Secret without credentials and a missing PipelineConfig are both reported."""
    await cluster.secret("auth", {"token": "t"})
    spec = {"repository": "https://github.com/org/app", "provider": "github", "authSecretRef": "auth",
            "pipelineConfigRef": "app-ci"}
    message = await cluster.refused("RepositoryConnection", "app", spec)
    assert 'spec.authSecretRef: Secret "auth" must hold "username" and "password" or ' in message
    assert 'spec.pipelineConfigRef: PipelineConfig "app-ci" does not exist' in message


async def test_valid_connection_is_admitted(cluster: Cluster) -> None:
    """A connection whose Secrets hold their keys and whose config exists is created."""
    await cluster.secret("hook", {"webhook-secret": "s"})
    await cluster.secret("auth", {"ssh-key": "k"})
    await cluster.create("PipelineConfig", "app-ci", pipeline(step("a")))
    spec = {"repository": "https://github.com/org/app", "provider": "github", "webhookSecretRef": "hook",
            "authSecretRef": "auth", "pipelineConfigRef": "app-ci"}
    created = await cluster.create("RepositoryConnection", "app", spec)
    assert created["spec"]["provider"] == "github"
