"""A single-node Kubernetes cluster from real parts on this machine, for tests and for trying c8s.

``running(directory, plane_bin, cluster_bin)`` is the one way to start it (``up`` and the pytest
fixture both use it): the control plane of tests/controlplane (without its node agent, with the
controllers a real node needs), then the local registry (loaded with the images tests/cluster/build
made), containerd + runc with the bridge CNI, CoreDNS on the bridge, kube-scheduler, the kubelet,
kube-proxy and kube-router's network policy controller (its firewall only: NetworkPolicies are
enforced with iptables + ipset). Pods run in real containers, each in its own network namespace on
the bridge.
Everything is stopped in reverse order on exit; pods are removed through the CRI (crictl rmp) before
containerd stops, so no container, shim, network namespace or veth outlives the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import images
import node_config as cfg
import pki as pki_mod
import plane as plane_mod
from cryptography import x509
from host import (
    HostError,
    bridge,
    drop_kubelet_rules,
    drop_network_policy_rules,
    host_lock,
    node_ip,
    sweep_stale,
    unmount_under,
)

__all__ = ["Cluster", "HostError", "running"]
from kubernetes_asyncio import client, config

log = logging.getLogger(__name__)

CONTROLLERS = (*plane_mod.CONTROLLERS, "root-ca-certificate-publisher-controller", "endpoints-controller",
               "endpointslice-controller", "replicaset-controller", "deployment-controller",
               "statefulset-controller", "pod-garbage-collector-controller", "node-lifecycle-controller",
               # PersistentVolumeClaims (NATS's StatefulSet) bind to PersistentVolumes made beforehand.
               "persistentvolume-binder-controller", "persistentvolumeclaim-protection-controller",
               "persistentvolume-protection-controller")
NODE_READY_TIMEOUT = 120.0
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SERVICE_CIDR = "10.0.0.0/24"  # the plane's --service-cluster-ip-range


@dataclass(frozen=True)
class Cluster:
    plane: plane_mod.Plane
    layout: cfg.Layout
    bin_dir: Path
    node_ip: str
    started_in: float

    @property
    def registry(self) -> str:
        """host:port of the loopback registry; images are ``{registry}/c8s/<name>:latest``."""
        return self.layout.registry

    def image(self, name: str) -> str:
        return f"{self.registry}/c8s/{name}:latest"


@contextlib.asynccontextmanager
async def running(directory: Path, plane_bin: Path, build_dir: Path) -> AsyncIterator[Cluster]:
    """Start the cluster in ``directory`` from the two builds' outputs; stop and clean up on exit."""
    cluster_bin = build_dir / "bin"
    t0 = time.monotonic()
    address = node_ip()
    with host_lock():
        for left in sweep_stale(build_dir.parent):
            log.warning("killed a process an earlier cluster left running: %s", left)
        async with plane_mod.running(directory, plane_bin, node_agent=False, controllers=CONTROLLERS,
                                     advertise_address=address) as p, \
                contextlib.AsyncExitStack() as stack:
            layout = cfg.Layout(p.directory, *plane_mod.free_ports(6))
            start = plane_mod.Starter(stack, p.directory, cluster_bin)
            await _registry(start, layout, build_dir)
            stack.enter_context(bridge())
            await _containerd(start, stack, layout, cluster_bin)
            await _coredns(start, layout, p)
            await _scheduler(start, p)
            await _kubelet(start, layout, p, address)
            await _kube_proxy(start, stack, layout, p, cluster_bin)
            await _node_ready(p)
            await _network_policies(start, p)
            yield Cluster(plane=p, layout=layout, bin_dir=cluster_bin, node_ip=address,
                          started_in=time.monotonic() - t0)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _kubeconfig(p: plane_mod.Plane, stem: str, user: str, org: str | None) -> Path:
    pair = pki_mod.issue(p.pki, stem, user, org, server=False, sans=[])
    return plane_mod.write_kubeconfig(p.directory / f"{stem}.kubeconfig", p.server, p.pki.ca.cert, pair, user)


async def _registry(start: plane_mod.Starter, layout: cfg.Layout, build_dir: Path) -> None:
    conf = _write(layout.directory / "registry.yaml", cfg.registry_yaml(layout))
    reg = await start("registry", ["serve", str(conf)], env={"OTEL_TRACES_EXPORTER": "none"})
    await plane_mod.wait_ok(reg, f"http://{layout.registry}/v2/", None)
    await images.push_all(build_dir, layout.registry)


async def _containerd(start: plane_mod.Starter, stack: contextlib.AsyncExitStack, layout: cfg.Layout,
                      bin_dir: Path) -> None:
    hosts = layout.containerd_dir / "certs.d" / layout.registry / "hosts.toml"
    _write(hosts, cfg.registry_hosts_toml(layout))
    _write(layout.cni_conf_dir / "10-c8s.conflist", cfg.cni_conflist(layout))
    conf = _write(layout.containerd_dir / "config.toml", cfg.containerd_toml(layout))
    stack.callback(unmount_under, layout.directory)  # runs last: pods and containerd are gone by then
    path = f"{bin_dir}:{SYSTEM_PATH}"  # the shim next to containerd; runc, iptables, mount from the host
    containerd = await start("containerd", ["--config", str(conf)], env={"PATH": path})
    stack.push_async_callback(_remove_pods, bin_dir, layout)  # runs after the kubelet has stopped
    await _wait_socket(containerd, layout.containerd_socket)


async def _wait_socket(component: plane_mod.Component, socket_path: Path) -> None:
    deadline = time.monotonic() + plane_mod.START_TIMEOUT
    while not await asyncio.to_thread(socket_path.exists):
        if component.proc.returncode is not None:
            raise component.failure(f"exited with status {component.proc.returncode} while starting")
        if time.monotonic() > deadline:
            raise component.failure(f"did not create {socket_path}")
        await asyncio.sleep(0.2)


async def _remove_pods(bin_dir: Path, layout: cfg.Layout) -> None:
    """Stop and remove every pod sandbox through the CRI: containers, shims, netns and CNI state go."""
    proc = await asyncio.create_subprocess_exec(
        str(bin_dir / "crictl"), f"--runtime-endpoint=unix://{layout.containerd_socket}", "rmp", "-a", "-f",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with asyncio.timeout(60):
        await proc.wait()


async def _coredns(start: plane_mod.Starter, layout: cfg.Layout, p: plane_mod.Plane) -> None:
    conf = _write(layout.directory / "Corefile", cfg.corefile(layout, p.kubeconfig))
    dns = await start("coredns", ["-conf", str(conf)])
    await plane_mod.wait_ok(dns, f"http://127.0.0.1:{layout.coredns_ready_port}/ready", None)


async def _scheduler(start: plane_mod.Starter, p: plane_mod.Plane) -> None:
    kubeconfig = _kubeconfig(p, "scheduler", "system:kube-scheduler", None)
    (port,) = plane_mod.free_ports(1)
    args = [f"--kubeconfig={kubeconfig}", f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}", "--bind-address=127.0.0.1", f"--secure-port={port}",
            f"--tls-cert-file={p.pki.loopback.cert}", f"--tls-private-key-file={p.pki.loopback.key}",
            "--leader-elect=false"]
    sched = await start("kube-scheduler", args)
    await plane_mod.wait_ok(sched, f"https://127.0.0.1:{port}/healthz", plane_mod.client_tls(p.pki))


async def _kubelet(start: plane_mod.Starter, layout: cfg.Layout, p: plane_mod.Plane, address: str) -> None:
    kubeconfig = _kubeconfig(p, "kubelet-client", f"system:node:{cfg.NODE}", "system:nodes")
    sans: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(address)), x509.DNSName(cfg.NODE)]
    serving = pki_mod.issue(p.pki, "kubelet-serving", cfg.NODE, None, server=True, sans=sans)
    conf = _write(layout.directory / "kubelet.yaml",
                  cfg.kubelet_yaml(layout, p.pki.ca.cert, serving.cert, serving.key))
    args = [f"--config={conf}", f"--kubeconfig={kubeconfig}", f"--root-dir={layout.directory / 'kubelet'}",
            f"--hostname-override={cfg.NODE}", f"--node-ip={address}"]
    start.stack.callback(drop_kubelet_rules)  # runs after the kubelet has stopped
    kubelet = await start("kubelet", args, env={"PATH": SYSTEM_PATH})
    await plane_mod.wait_ok(kubelet, f"http://127.0.0.1:{layout.kubelet_healthz_port}/healthz", None)


async def _kube_proxy(start: plane_mod.Starter, stack: contextlib.AsyncExitStack, layout: cfg.Layout,
                      p: plane_mod.Plane, bin_dir: Path) -> None:
    kubeconfig = _kubeconfig(p, "kube-proxy", "system:kube-proxy", None)
    conf = _write(layout.directory / "kube-proxy.yaml", cfg.kube_proxy_yaml(layout, kubeconfig))
    stack.push_async_callback(_proxy_cleanup, bin_dir, conf)  # runs after kube-proxy has stopped
    proxy = await start("kube-proxy", [f"--config={conf}"])
    await plane_mod.wait_ok(proxy, f"http://127.0.0.1:{layout.proxy_healthz_port}/healthz", None)


async def _network_policies(start: plane_mod.Starter, p: plane_mod.Plane) -> None:
    """kube-router with only its firewall (the NetworkPolicy controller): pod and bridge traffic is
    filtered in the FORWARD/INPUT/OUTPUT chains by the policies that select each pod. Started once
    the node is Ready (it reads its Node); its rules are removed after it stops."""
    (health,) = plane_mod.free_ports(1)
    args = [f"--kubeconfig={p.kubeconfig}", f"--hostname-override={cfg.NODE}", "--run-firewall=true",
            "--run-router=false", "--run-service-proxy=false", f"--health-port={health}", "--metrics-port=0",
            f"--service-cluster-ip-range={SERVICE_CIDR}", "--enable-ipv6=false"]
    start.stack.callback(drop_network_policy_rules)  # runs after kube-router has stopped
    router = await start("kube-router", args, env={"PATH": SYSTEM_PATH})  # iptables, ipset from the host
    await plane_mod.wait_ok(router, f"http://127.0.0.1:{health}/healthz", None)


async def _proxy_cleanup(bin_dir: Path, conf: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        str(bin_dir / "kube-proxy"), f"--config={conf}", "--cleanup",
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL)
    async with asyncio.timeout(60):
        await proc.wait()


async def _node_ready(p: plane_mod.Plane) -> None:
    api = await config.new_client_from_config(config_file=str(p.kubeconfig))
    core = client.CoreV1Api(api)
    deadline, last = time.monotonic() + NODE_READY_TIMEOUT, "not registered"
    try:
        while time.monotonic() < deadline:
            nodes = {n.metadata.name: n for n in (await core.list_node()).items}
            node = nodes.get(cfg.NODE)
            if node is not None:
                ready = [c for c in node.status.conditions or [] if c.type == "Ready"]
                last = f"{ready[0].status}: {ready[0].message}" if ready else "no Ready condition"
                if ready and ready[0].status == "True":
                    return
            await asyncio.sleep(0.5)
    finally:
        await api.close()
    raise plane_mod.PlaneError(f"node {cfg.NODE} not Ready after {NODE_READY_TIMEOUT:.0f}s ({last}); "
                               f"see {p.directory}/kubelet.log and containerd.log")
