"""A real Kubernetes control plane on loopback: etcd, kube-apiserver, kube-controller-manager and the
test node agent, from the binaries tests/controlplane/build makes.

``running(directory, bin_dir)`` is the one way to start it (``up`` and the pytest fixture both use
it). Everything lives in ``directory``: the PKI, etcd's data, one log per component, and
``kubeconfig`` for an admin (client certificate in group system:masters). Every port is chosen by
the OS; components are started through adapters.runtime.processes and ended, in reverse order, when the
context exits, including when start-up fails (the error then quotes the failing component's log).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pki as pki_mod
import yaml
from kubernetes_asyncio import client, config
from nodeagent import DEFAULT_NODE, NodeAgent

from adapters.runtime import processes

HERE = Path(__file__).resolve().parent
BINARIES = ("etcd", "kube-apiserver", "kube-controller-manager", "kubectl")
CONTROLLERS = (
    "job-controller",
    "garbage-collector-controller",
    "ttl-after-finished-controller",
    "namespace-controller",
    "serviceaccount-token-controller",
    "serviceaccount-controller",
)
START_TIMEOUT = 60.0
_ENV_KEYS = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL")


class PlaneError(Exception):
    """The plane could not be started; the message says which part and why."""


@dataclass(frozen=True)
class Plane:
    directory: Path
    bin_dir: Path
    server: str  # https://127.0.0.1:<port>
    kubeconfig: Path
    pki: pki_mod.Pki
    node: str
    started_in: float  # seconds from the first process to a Ready node

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"


def find_binaries() -> Path:
    """$C8S_CONTROLPLANE_BIN when set (it must hold the four binaries); otherwise run the build."""
    configured = os.environ.get("C8S_CONTROLPLANE_BIN")
    if configured:
        bin_dir = Path(configured)
    else:
        result = subprocess.run([str(HERE / "build")], stdout=subprocess.PIPE, text=True, check=False)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise PlaneError(f"tests/controlplane/build failed (exit {result.returncode}), see its output")
        bin_dir = Path(lines[-1])
    missing = [b for b in BINARIES if not os.access(bin_dir / b, os.X_OK)]
    if missing:
        raise PlaneError(
            f"{', '.join(missing)} missing in {bin_dir}: run tests/controlplane/build and export "
            "C8S_CONTROLPLANE_BIN=<its last line> (scripts/test does this)"
        )
    return bin_dir


def free_ports(n: int) -> list[int]:
    """n distinct ports the OS reports free on 127.0.0.1 (held together while choosing)."""
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(n)]
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]


@contextlib.asynccontextmanager
async def running(
    directory: Path, bin_dir: Path, *, node_agent: bool = True, controllers: tuple[str, ...] = CONTROLLERS,
    advertise_address: str | None = None,
) -> AsyncIterator[Plane]:
    """Start the whole plane in ``directory``; stop it cleanly on exit.

    ``node_agent=False`` leaves the node to a real kubelet (tests/cluster), which also needs more
    ``controllers`` than the node agent does. ``advertise_address`` (tests/cluster: the node's IP)
    makes the apiserver listen on every address and publish that one as the endpoint of the
    ``kubernetes`` Service, so pods reach it at 10.0.0.1:443; without it the apiserver listens on
    127.0.0.1 only and the Service has no endpoint.
    """
    t0 = time.monotonic()
    directory = await asyncio.to_thread(_prepare, directory)
    extra_ips = (advertise_address,) if advertise_address else ()
    pki = await asyncio.to_thread(pki_mod.generate, directory / "pki", extra_ips)
    etcd_port, peer_port, api_port, kcm_port = free_ports(4)
    server = f"https://127.0.0.1:{api_port}"
    kubeconfig = write_kubeconfig(directory / "kubeconfig", server, pki.ca.cert, pki.admin, "admin")
    kcm_kubeconfig = write_kubeconfig(directory / "controller-manager.kubeconfig", server, pki.ca.cert,
                                       pki.controller_manager, "system:kube-controller-manager")
    async with contextlib.AsyncExitStack() as stack:
        start = Starter(stack, directory, bin_dir)
        etcd = await start("etcd", _etcd_args(directory, etcd_port, peer_port))
        await wait_ok(etcd, f"http://127.0.0.1:{etcd_port}/health", None)
        tls = client_tls(pki)
        apiserver_args = _apiserver_args(pki, api_port, etcd_port, advertise_address)
        apiserver = await start("kube-apiserver", apiserver_args)
        await wait_ok(apiserver, f"{server}/readyz", tls)
        kcm = await start("kube-controller-manager", _kcm_args(pki, kcm_kubeconfig, kcm_port, controllers))
        await wait_ok(kcm, f"https://127.0.0.1:{kcm_port}/healthz", tls)
        api = await config.new_client_from_config(config_file=str(kubeconfig))
        stack.push_async_callback(api.close)
        if node_agent:
            await _start_node_agent(stack, api, directory, pki)
        yield Plane(directory=directory, bin_dir=bin_dir, server=server, kubeconfig=kubeconfig, pki=pki,
                    node=DEFAULT_NODE, started_in=time.monotonic() - t0)


async def _start_node_agent(
    stack: contextlib.AsyncExitStack, api: client.ApiClient, directory: Path, pki: pki_mod.Pki
) -> None:
    version = await client.VersionApi(api).get_code()
    agent = NodeAgent(api, directory / "node", ca=pki.ca.cert, cert=pki.loopback.cert,
                      key=pki.loopback.key, kubelet_version=version.git_version)
    await agent.start()
    stack.push_async_callback(agent.stop)


def _prepare(directory: Path) -> Path:
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(directory / "etcd-data", ignore_errors=True)
    return directory


class Component:
    def __init__(self, name: str, proc: processes.RunningProcess) -> None:
        self.name, self.proc = name, proc

    def failure(self, why: str) -> PlaneError:
        tail = self.proc.log_path.read_text(errors="replace").splitlines()[-30:]
        return PlaneError(f"{self.name} {why}; last lines of {self.proc.log_path}:\n" + "\n".join(tail))


class Starter:
    def __init__(self, stack: contextlib.AsyncExitStack, directory: Path, bin_dir: Path) -> None:
        self.stack, self.directory, self.bin_dir = stack, directory, bin_dir

    async def __call__(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Component:
        """Start ``bin_dir/name args`` logging to ``directory/name.log``; ``env`` adds or replaces."""
        env = {**{k: os.environ[k] for k in _ENV_KEYS if k in os.environ}, **(env or {})}
        log_path = self.directory / f"{name}.log"
        log_path.write_text(f"# {self.bin_dir / name} {' '.join(args)}\n")
        proc = await processes.start([str(self.bin_dir / name), *args], env=env, cwd=self.directory,
                                     log_path=log_path)
        self.stack.push_async_callback(proc.kill, 10.0)
        return Component(name, proc)


async def wait_ok(component: Component, url: str, tls: ssl.SSLContext | None) -> None:
    """Poll ``url`` until it answers 200, failing early if the component exits."""
    deadline = time.monotonic() + START_TIMEOUT
    last = "no answer"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() < deadline:
            if component.proc.returncode is not None:
                raise component.failure(f"exited with status {component.proc.returncode} while starting")
            try:
                async with http.get(url, ssl=tls if tls is not None else False) as resp:
                    if resp.status == 200:
                        return
                    last = f"{resp.status}: {(await resp.text())[-500:]}"
            except (aiohttp.ClientError, OSError, TimeoutError) as e:
                last = repr(e)
            await asyncio.sleep(0.2)
    raise component.failure(f"not ready after {START_TIMEOUT:.0f}s at {url} ({last})")


def client_tls(pki: pki_mod.Pki) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(pki.ca.cert))
    ctx.load_cert_chain(str(pki.admin.cert), str(pki.admin.key))
    return ctx


def _etcd_args(directory: Path, port: int, peer: int) -> list[str]:
    client_url, peer_url = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer}"
    return [
        "--name=default", f"--data-dir={directory / 'etcd-data'}",
        f"--listen-client-urls={client_url}", f"--advertise-client-urls={client_url}",
        f"--listen-peer-urls={peer_url}", f"--initial-advertise-peer-urls={peer_url}",
        f"--initial-cluster=default={peer_url}", "--unsafe-no-fsync", "--log-level=warn",
    ]


def _apiserver_args(pki: pki_mod.Pki, port: int, etcd_port: int, advertise: str | None) -> list[str]:
    # The flags of controller-runtime's envtest, plus the kubelet client settings pods/log needs.
    if advertise:  # the endpoint reconciler publishes advertise:port as the kubernetes Service's endpoint
        listen = [f"--advertise-address={advertise}", "--bind-address=0.0.0.0",
                  "--endpoint-reconciler-type=lease"]
    else:  # the endpoint reconciler refuses a loopback address; nothing here routes to the service IP
        listen = ["--advertise-address=127.0.0.1", "--bind-address=127.0.0.1",
                  "--endpoint-reconciler-type=none"]
    return [
        *listen, f"--secure-port={port}",
        f"--etcd-servers=http://127.0.0.1:{etcd_port}",
        f"--tls-cert-file={pki.apiserver.cert}", f"--tls-private-key-file={pki.apiserver.key}",
        f"--client-ca-file={pki.ca.cert}",
        "--authorization-mode=Node,RBAC", "--allow-privileged=true",
        "--service-cluster-ip-range=10.0.0.0/24",
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
        f"--service-account-key-file={pki.sa_pub}", f"--service-account-signing-key-file={pki.sa_key}",
        f"--kubelet-certificate-authority={pki.ca.cert}",
        f"--kubelet-client-certificate={pki.kubelet_client.cert}",
        f"--kubelet-client-key={pki.kubelet_client.key}",
        "--kubelet-preferred-address-types=InternalIP",
        # The aggregation layer's front proxy, so extension apiservers and the controller manager's
        # delegated authentication find the request-header CA they look for.
        f"--requestheader-client-ca-file={pki.ca.cert}", "--requestheader-allowed-names=front-proxy-client",
        "--requestheader-username-headers=X-Remote-User", "--requestheader-group-headers=X-Remote-Group",
        "--requestheader-extra-headers-prefix=X-Remote-Extra-",
        f"--proxy-client-cert-file={pki.front_proxy_client.cert}",
        f"--proxy-client-key-file={pki.front_proxy_client.key}",
        "--profiling=false", "--shutdown-delay-duration=0s",
    ]


def _kcm_args(pki: pki_mod.Pki, kubeconfig: Path, port: int, controllers: tuple[str, ...]) -> list[str]:
    return [
        f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
        f"--authorization-kubeconfig={kubeconfig}",
        "--bind-address=127.0.0.1", f"--secure-port={port}",
        f"--tls-cert-file={pki.loopback.cert}", f"--tls-private-key-file={pki.loopback.key}",
        f"--client-ca-file={pki.ca.cert}",
        "--leader-elect=false", f"--controllers={','.join(controllers)}",
        "--use-service-account-credentials=true",
        f"--service-account-private-key-file={pki.sa_key}", f"--root-ca-file={pki.ca.cert}",
        "--profiling=false",
    ]


def write_kubeconfig(path: Path, server: str, ca: Path, user: pki_mod.Pair, name: str) -> Path:
    credentials = {"client-certificate": str(user.cert), "client-key": str(user.key)}
    cfg = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c8s-test",
        "clusters": [{"name": "c8s-test", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": name, "user": credentials}],
        "contexts": [{"name": "c8s-test", "context": {"cluster": "c8s-test", "user": name}}],
    }
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
