"""Dashboard authorization on the real control plane: ServiceAccount tokens and RBAC decide.

A `reader` ServiceAccount may get pipelineruns in the test namespace, an `outsider` may not; both
get real tokens (TokenRequest). The dashboard (real KubeStore, nats-server, file objects) reviews
them with TokenReview and SubjectAccessReview (adapters/kube/access.py).

Covers: the outsider's token gets 403 for the run's page, its log, its artifact and the JSON API,
and the listing hides the namespace; the reader's token sees all of them but may not Cancel (403:
no patch); no token is 401; a re-run by a token RBAC allows is triggered by its owner; proxy
headers naming the reader are ignored from an untrusted peer and honoured from a trusted one; a
public namespace is readable without a token and still not cancellable.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest
from kubernetes_asyncio import client

from adapters import wiring
from adapters.jetstream.bus import NatsBus
from adapters.jetstream.server import NatsServer
from adapters.jetstream.settings import BusSettings
from adapters.kube.access import KubeAccess
from adapters.kube.client import KubeSettings
from adapters.kube.store import KubeStore
from adapters.object_store import FsspecObjectStore
from api.meta import ObjectMeta
from api.pipelinerun import PipelineRun, PipelineRunSpec, PipelineRunStatus, StepStatus
from services.dashboard.actions import Csrf
from services.dashboard.authorizing import Gate, Policy, networks
from services.dashboard.context import Context
from services.dashboard.http import make_app
from services.dashboard.live import RunFeed
from services.dashboard.reading import Reader
from services.dashboard.service import start
from tests.k8s.conftest import Kubectl
from tests.k8s.spare_apiserver import c8s_crds

pytestmark = [pytest.mark.k8s, pytest.mark.usefixtures("c8s_crds")]
__all__ = ["c8s_crds"]
RUN = "app-ci-1"


class Site:
    def __init__(self, url: str, session: aiohttp.ClientSession, csrf: Csrf) -> None:
        self.url, self.session, self.csrf = url, session, csrf

    async def status(self, path: str, token: str = "", method: str = "GET", **headers: str) -> int:
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = {"csrf": self.csrf.token(*path.split("/")[2:4])} if method == "POST" else None
        async with self.session.request(method, self.url + path, headers=headers, data=data,
                                        allow_redirects=False) as response:  # fmt: skip
            await response.read()
            return response.status

    async def listed(self, namespace: str, token: str) -> list[str]:
        """The run names /api/runs shows the token's owner in `namespace`."""
        headers = {"Authorization": f"Bearer {token}"}
        async with self.session.get(
            f"{self.url}/api/runs?namespace={namespace}", headers=headers
        ) as response:
            return [r["name"] for r in (await response.json())["runs"]]


@contextlib.asynccontextmanager
async def dashboard(plane: object, tmp: Path, policy: Policy) -> AsyncIterator[Site]:
    kubeconfig = str(plane.kubeconfig)  # type: ignore[attr-defined]
    store = await KubeStore.connect(KubeSettings(kubeconfig=kubeconfig))
    api = await client_of(kubeconfig)
    with NatsServer(tmp / f"jetstream-{uuid.uuid4().hex[:6]}") as server:
        bus = await NatsBus.connect(BusSettings(servers=[server.url], name="tests"))
        await bus.ensure_streams()
        reader = Reader(store, bus, FsspecObjectStore((tmp / "objects").as_uri()), lambda: datetime.now(UTC))
        csrf = Csrf(b"k" * 32)
        lines = lambda ns, run: wiring.live_lines(bus, ns, run)  # noqa: E731
        ctx = Context(reader, RunFeed(store), lines, csrf, gate=Gate(KubeAccess(api), policy))
        runner, url = await start(make_app(ctx, lambda: True), "127.0.0.1", 0)
        try:
            async with aiohttp.ClientSession() as session:
                yield Site(url, session, csrf)
        finally:
            await runner.cleanup()
            await bus.close()
            await api.close()
            await store.close()


async def client_of(kubeconfig: str) -> client.ApiClient:
    from kubernetes_asyncio import config

    return await config.new_client_from_config(config_file=kubeconfig)


async def accounts(kubectl: Kubectl, ns: str) -> dict[str, str]:
    """ServiceAccounts reader (get pipelineruns in ns) and outsider (nothing), with their tokens."""
    for name in ("reader", "outsider"):
        await kubectl("create", "serviceaccount", name, "-n", ns)
    await kubectl(
        "create", "role", "runs-reader", "--verb=get,list,watch", "--resource=pipelineruns.c8s.dev", "-n", ns
    )
    await kubectl(
        "create",
        "rolebinding",
        "runs-reader",
        "--role=runs-reader",
        f"--serviceaccount={ns}:reader",
        "-n",
        ns,
    )
    return {
        name: (await kubectl("create", "token", name, "-n", ns)).stdout.strip()
        for name in ("reader", "outsider")
    }


async def seed(plane: object, ns: str, tmp: Path) -> None:
    objects = FsspecObjectStore((tmp / "objects").as_uri())
    log = await objects.put(f"{ns}/{RUN}/build.log", b"hello\n")
    artifact = await objects.put(f"{ns}/{RUN}/artifacts/app.bin", b"\x00\x01")
    store = await KubeStore.connect(KubeSettings(kubeconfig=str(plane.kubeconfig)))  # type: ignore[attr-defined]
    try:
        spec = PipelineRunSpec(pipeline_config_ref="app-ci", commit="abcdef1")
        run = await store.create(PipelineRun(metadata=ObjectMeta(namespace=ns, name=RUN), spec=spec))
        steps = [
            StepStatus(name="build", phase="Succeeded", exit_code=0, log_url=log, artifact_urls=[artifact])
        ]
        status = PipelineRunStatus(phase="Running", steps=steps, observed_sequence=1)
        await store.patch_status(PipelineRun, ns, RUN, status, uid=run.metadata.uid)
    finally:
        await store.close()


def paths(ns: str) -> list[str]:
    base = f"/runs/{ns}/{RUN}"
    return [base, f"{base}/logs/build", f"{base}/artifacts/build/0", f"/api{base}", f"/api{base}/logs/build"]


async def test_tokens_are_authorized_by_rbac(
    control_plane: object, namespace: str, kubectl: Kubectl, tmp_path: Path
) -> None:
    """Outsider 403, reader 200 (but no Cancel), nobody 401; the listing hides what is not readable."""
    tokens = await accounts(kubectl, namespace)
    await seed(control_plane, namespace, tmp_path)
    async with dashboard(control_plane, tmp_path, Policy()) as site:
        for path in paths(namespace):
            assert await site.status(path, tokens["outsider"]) == 403, path
            assert await site.status(path, tokens["reader"]) == 200, path
            assert await site.status(path) == 401, path
        assert await site.status(f"/runs/{namespace}/{RUN}/cancel", tokens["reader"], "POST") == 403
        assert await site.listed(namespace, tokens["outsider"]) == []
        assert await site.listed(namespace, tokens["reader"]) == [RUN]


async def test_proxy_headers_only_from_a_trusted_peer(
    control_plane: object, namespace: str, kubectl: Kubectl, tmp_path: Path
) -> None:
    """The proxy's user and groups count only when the request comes from a configured proxy."""
    await accounts(kubectl, namespace)
    await seed(control_plane, namespace, tmp_path)
    reader = {"X-Forwarded-User": f"system:serviceaccount:{namespace}:reader",
              "X-Forwarded-Groups": "system:serviceaccounts,system:authenticated"}  # fmt: skip
    page = f"/runs/{namespace}/{RUN}"
    async with dashboard(control_plane, tmp_path, Policy(trusted_proxies=networks("10.9.9.9"))) as site:
        assert await site.status(page, **reader) == 401
    trusting = Policy(trusted_proxies=networks("127.0.0.0/8"))
    async with dashboard(control_plane, tmp_path, trusting) as site:
        assert await site.status(page, **reader) == 200
        outsider = reader | {"X-Forwarded-User": f"system:serviceaccount:{namespace}:outsider"}
        assert await site.status(page, **outsider) == 403


async def test_rerun_is_by_the_token_owner(
    control_plane: object, namespace: str, kubectl: Kubectl, tmp_path: Path
) -> None:
    """A ServiceAccount RBAC lets create runs re-runs one; the new run says it triggered it."""
    await kubectl("create", "serviceaccount", "writer", "-n", namespace)
    verbs = "--verb=get,list,watch,create,patch"
    await kubectl("create", "role", "runs-writer", verbs, "--resource=pipelineruns.c8s.dev", "-n", namespace)
    account = f"--serviceaccount={namespace}:writer"
    await kubectl("create", "rolebinding", "runs-writer", "--role=runs-writer", account, "-n", namespace)
    token = (await kubectl("create", "token", "writer", "-n", namespace)).stdout.strip()
    await seed(control_plane, namespace, tmp_path)
    async with dashboard(control_plane, tmp_path, Policy()) as site:
        assert await site.status(f"/runs/{namespace}/{RUN}/rerun", token, "POST") == 303
        runs = await site.listed(namespace, token)
        [new] = [name for name in runs if name != RUN]
        async with site.session.get(f"{site.url}/api/runs/{namespace}/{new}",
                                    headers={"Authorization": f"Bearer {token}"}) as response:  # fmt: skip
            spec = (await response.json())["spec"]
    assert spec["triggeredBy"] == f"system:serviceaccount:{namespace}:writer"


async def test_public_namespace_is_read_only(
    control_plane: object, namespace: str, kubectl: Kubectl, tmp_path: Path
) -> None:
    """Anyone reads a public namespace's runs; cancelling still needs RBAC."""
    await seed(control_plane, namespace, tmp_path)
    async with dashboard(control_plane, tmp_path, Policy(public=frozenset({namespace}))) as site:
        for path in paths(namespace):
            assert await site.status(path) == 200, path
        assert await site.status(f"/runs/{namespace}/{RUN}/cancel", method="POST") == 401
