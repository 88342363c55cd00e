"""What the test cluster changes on the host, and how it is undone: one cluster per host at a time.

The pod bridge, its address, the host's IPv4 forwarding and the CNI plugins' and kube-proxy's
iptables rules belong to the host, not to a directory. ``host_lock`` makes a second cluster on the
same machine fail at once with a clear error instead of fighting over them; ``bridge`` creates the
bridge with the gateway address (CoreDNS binds to it before the first pod exists) and deletes it on
exit; ``drop_cni_rules``, ``drop_kubelet_rules`` and ``drop_network_policy_rules`` remove the iptables
rules (and ipsets) the bridge plugin, the kubelet and kube-router's policy controller leave behind;
``unmount_under`` the kubelet's and containerd's mounts in the cluster's dir.

``sweep_stale`` runs first, under the lock: a cluster whose process was killed (SIGKILL, a CI
timeout) never ran its teardown, and its kubelet, containerd, shims and containers, each in a
session of its own, live on. They are the processes whose executable lies under the cluster
builds' cache dir (any build key), and the processes below them (a shim's container): holding the
lock, no live cluster owns them, so they are killed before the new cluster starts.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path

from node_config import BRIDGE, CNI_NETWORK, GATEWAY, POD_SUBNET

LOCK_PATH = Path("/run/c8s-cluster.lock")


class HostError(Exception):
    """The host cannot run the cluster; the message says why and what to do."""


@contextlib.contextmanager
def host_lock() -> Iterator[None]:
    with LOCK_PATH.open("w") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HostError(
                f"another tests/cluster is running on this machine (it holds {LOCK_PATH}); the pod bridge "
                f"{BRIDGE} and the iptables rules are per host, so stop that one first"
            ) from None
        yield


def stale(table: Mapping[int, tuple[str, int]], root: Path) -> list[int]:
    """Of ``table`` (pid -> (executable, parent pid)), the pids to kill: each process whose
    executable lies under ``root`` and every process below one, descendants first."""
    children: dict[int, list[int]] = {}
    for pid, (_, parent) in table.items():
        children.setdefault(parent, []).append(pid)
    ordered: list[int] = []

    def below(pid: int) -> None:
        for child in children.get(pid, []):
            if child not in ordered:
                below(child)
        if pid not in ordered:
            ordered.append(pid)

    for pid, (exe, _) in sorted(table.items()):
        if Path(exe).is_relative_to(root):
            below(pid)
    return ordered


def processes() -> dict[int, tuple[str, int]]:
    """pid -> (executable, parent pid) of every process this user may inspect (root: all)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            exe = str((entry / "exe").readlink())
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):  # gone meanwhile, or a kernel thread (no exe)
            continue
        table[int(entry.name)] = (exe, parent)
    return table


def sweep_stale(root: Path) -> list[str]:
    """Kill what an earlier cluster left running (module docstring); returns what was killed."""
    table = processes()
    killed = []
    for pid in stale(table, root.resolve()):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
            killed.append(f"{pid} {table[pid][0]}")
    return killed


def node_ip() -> str:
    """The host's source address towards its default route (the kubelet refuses a loopback node IP)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("198.51.100.1", 9))  # no packet is sent: this only asks the routing table
        except OSError as e:
            raise HostError(f"no IPv4 default route to take the node address from: {e}") from e
        address: str = s.getsockname()[0]
    if ipaddress.ip_address(address).is_loopback:
        raise HostError(f"the default route's source address is {address}; the kubelet needs another")
    return address


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


@contextlib.contextmanager
def bridge() -> Iterator[None]:
    """The pod bridge with the gateway address, up; deleted (with every veth on it) on exit."""
    prefix = ipaddress.ip_network(POD_SUBNET).prefixlen
    _ip("link", "del", BRIDGE, check=False)  # a leftover from a cluster that was SIGKILLed
    _ip("link", "add", BRIDGE, "type", "bridge")
    try:
        _ip("addr", "add", f"{GATEWAY}/{prefix}", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        Path("/proc/sys/net/ipv4/ip_forward").write_text("1\n")
        yield
    finally:
        _ip("link", "del", BRIDGE, check=False)
        drop_cni_rules()


def unmount_under(directory: Path) -> None:
    """Unmount what the kubelet and containerd left mounted below ``directory`` (deepest first)."""
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    prefix = str(directory.resolve())
    below = [m for m in mounts if m == prefix or m.startswith(prefix + "/")]
    for point in sorted(below, key=len, reverse=True):
        subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)


def drop_kubelet_rules() -> None:
    """The kubelet's own filter chains (KUBE-FIREWALL, KUBE-KUBELET-CANARY in every table it uses)."""
    for table in ("filter", "nat", "mangle"):
        for chain in ("INPUT", "OUTPUT"):
            subprocess.run(["iptables", "-t", table, "-D", chain, "-j", "KUBE-FIREWALL"],
                           capture_output=True, check=False)
        for chain in ("KUBE-FIREWALL", "KUBE-KUBELET-CANARY"):
            for op in ("-F", "-X"):
                subprocess.run(["iptables", "-t", table, op, chain], capture_output=True, check=False)


def drop_cni_rules() -> None:
    """Remove the bridge plugin's masquerade rules and chains for this cluster's network, if any remain."""
    rules = subprocess.run(["iptables", "-t", "nat", "-S", "POSTROUTING"], capture_output=True, text=True,
                           check=False).stdout.splitlines()
    for rule in rules:
        if f'name: \\"{CNI_NETWORK}\\"' in rule or f'name: "{CNI_NETWORK}"' in rule:
            chain = rule.split(" -j ")[-1].split()[0]
            delete = rule.replace("-A POSTROUTING", "-D POSTROUTING", 1)
            subprocess.run(["sh", "-c", f"iptables -t nat {delete}"], capture_output=True, check=False)
            for op in ("-F", "-X"):
                subprocess.run(["iptables", "-t", "nat", op, chain], capture_output=True, check=False)


#: The filter chains kube-router's policy controller makes (top-level, per pod, per policy).
_NETPOL_CHAIN = re.compile(r"^:(KUBE-ROUTER-[A-Z]+|KUBE-POD-FW-[A-Z0-9]+|KUBE-NWPLCY-[A-Z0-9]+) ")
_NETPOL_SET = re.compile(r"^KUBE-(SRC|DST)-[A-Z0-9]+$")


def drop_network_policy_rules() -> None:
    """Remove kube-router's policy chains, the jumps to them and its ipsets. Needed because
    `kube-router --cleanup-config` leaves them (v2.1.0 on this host: it then panics in the service
    proxy's IPVS cleanup), and a leftover per-pod chain would apply an old policy to the next
    cluster's pod that gets the same address."""
    saved = subprocess.run(["iptables-save", "-t", "filter"], capture_output=True, text=True,
                           check=False).stdout.splitlines()
    for rule in saved:
        if rule.startswith(("-A INPUT ", "-A FORWARD ", "-A OUTPUT ")) and "kube-router netpol" in rule:
            delete = rule.replace("-A ", "-D ", 1)
            subprocess.run(["sh", "-c", f"iptables -t filter {delete}"], capture_output=True, check=False)
    chains = [m.group(1) for m in map(_NETPOL_CHAIN.match, saved) if m]
    for op in ("-F", "-X"):  # flush all first: the chains jump to one another
        for chain in chains:
            subprocess.run(["iptables", "-t", "filter", op, chain], capture_output=True, check=False)
    sets = subprocess.run(["ipset", "list", "-n"], capture_output=True, text=True, check=False).stdout.split()
    for name in filter(_NETPOL_SET.match, sets):
        subprocess.run(["ipset", "destroy", name], capture_output=True, check=False)
