"""The configuration files of the test cluster's node components, rendered from one ``Layout``.

Pure functions from paths and ports to file contents (no I/O here): containerd's config and its
registry hosts file, the CNI network list, the kubelet's and kube-proxy's configuration, the
registry's configuration and CoreDNS's Corefile. Every path they name lives under the cluster's
directory, so nothing of the host's /etc or /var/lib is read or written by the components, except
the CNI plugins (Debian's, in /usr/lib/cni) and runc.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

NODE = "c8s-node"
BRIDGE = "c8s0"  # one per host: tests/cluster holds a host lock while it exists
POD_SUBNET = "10.244.0.0/24"
GATEWAY = "10.244.0.1"  # the bridge's address; CoreDNS listens here and pods use it as their DNS
CLUSTER_CIDR = "10.244.0.0/16"
CNI_BIN = Path("/usr/lib/cni")  # Debian's containernetworking-plugins
CNI_NETWORK = "c8s-cluster"


@dataclass(frozen=True)
class Layout:
    directory: Path
    registry_port: int
    kubelet_port: int
    kubelet_healthz_port: int
    proxy_healthz_port: int
    proxy_metrics_port: int
    coredns_ready_port: int

    @property
    def registry(self) -> str:
        return f"127.0.0.1:{self.registry_port}"

    @property
    def containerd_dir(self) -> Path:
        return self.directory / "containerd"

    @property
    def containerd_socket(self) -> Path:
        return self.containerd_dir / "containerd.sock"

    @property
    def cni_conf_dir(self) -> Path:
        return self.directory / "cni" / "net.d"


def containerd_toml(layout: Layout) -> str:
    """containerd 2.x (config version 3): CRI with runc on cgroupfs, images only from the local registry."""
    d = layout.containerd_dir
    cri_images = "plugins.'io.containerd.cri.v1.images'"
    cri_runtime = "plugins.'io.containerd.cri.v1.runtime'"
    return f"""version = 3
root = "{d / 'root'}"
state = "{d / 'state'}"

[grpc]
  address = "{layout.containerd_socket}"

[ttrpc]
  address = "{layout.containerd_socket}.ttrpc"

[plugins.'io.containerd.internal.v1.opt']
  path = "{d / 'opt'}"

[plugins.'io.containerd.nri.v1.nri']
  disable = true

[plugins.'io.containerd.transfer.v1.local']
  config_path = "{d / 'certs.d'}"

[{cri_images}]
  snapshotter = "overlayfs"
  [{cri_images}.pinned_images]
    sandbox = "{layout.registry}/c8s/pause:latest"
  [{cri_images}.registry]
    config_path = "{d / 'certs.d'}"

[{cri_runtime}]
  netns_mounts_under_state_dir = true
  # Without CAP_SYS_RESOURCE (this machine's root lacks it) runc cannot lower a sandbox's
  # oom_score_adj to -998; this keeps it at max(current, requested) instead of failing every pod.
  restrict_oom_score_adj = true
  [{cri_runtime}.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [{cri_runtime}.containerd.runtimes.runc.options]
      BinaryName = "/usr/sbin/runc"
      Root = "{d / 'runc'}"
      SystemdCgroup = false
  [{cri_runtime}.cni]
    bin_dirs = ["{CNI_BIN}"]
    conf_dir = "{layout.cni_conf_dir}"
"""


def registry_hosts_toml(layout: Layout) -> str:
    """certs.d/<registry>/hosts.toml: the loopback registry speaks plain HTTP."""
    url = f"http://{layout.registry}"
    return f'server = "{url}"\n\n[host."{url}"]\n  capabilities = ["pull", "resolve", "push"]\n'


def cni_conflist(layout: Layout) -> str:
    """bridge + host-local IPAM (state under the cluster dir) + portmap."""
    ipam = {"type": "host-local", "ranges": [[{"subnet": POD_SUBNET, "gateway": GATEWAY}]],
            "routes": [{"dst": "0.0.0.0/0"}], "dataDir": str(layout.directory / "cni" / "ipam")}
    plugins = [
        {"type": "bridge", "bridge": BRIDGE, "isGateway": True, "ipMasq": True, "hairpinMode": True,
         "ipam": ipam},
        {"type": "portmap", "capabilities": {"portMappings": True}},
    ]
    return json.dumps({"cniVersion": "1.0.0", "name": CNI_NETWORK, "plugins": plugins}, indent=2)


def kubelet_yaml(layout: Layout, ca: Path, cert: Path, key: Path) -> str:
    """The kubelet on cgroup v1 hosts too (failCgroupV1: false), cgroupfs, x509 clients only."""
    cfg = {
        "apiVersion": "kubelet.config.k8s.io/v1beta1", "kind": "KubeletConfiguration",
        "failCgroupV1": False, "cgroupDriver": "cgroupfs", "failSwapOn": False,
        "containerRuntimeEndpoint": f"unix://{layout.containerd_socket}",
        "port": layout.kubelet_port, "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1", "healthzPort": layout.kubelet_healthz_port,
        "tlsCertFile": str(cert), "tlsPrivateKeyFile": str(key),
        "authentication": {"x509": {"clientCAFile": str(ca)}, "webhook": {"enabled": False},
                           "anonymous": {"enabled": False}},
        "authorization": {"mode": "AlwaysAllow"},
        "clusterDomain": "cluster.local", "clusterDNS": [GATEWAY],
        "serializeImagePulls": False, "registerNode": True,
        # A shared build machine's disk and memory must not evict the tests' pods.
        "evictionHard": {"memory.available": "50Mi", "nodefs.available": "1%", "imagefs.available": "1%",
                         "nodefs.inodesFree": "1%"},
        "imageGCHighThresholdPercent": 100, "imageGCLowThresholdPercent": 99,
        "staticPodPath": "", "podLogsDir": str(layout.directory / "pod-logs"),
    }
    return yaml.safe_dump(cfg, sort_keys=False)


def kube_proxy_yaml(layout: Layout, kubeconfig: Path) -> str:
    """iptables mode; masqueradeAll so a Service answer between pods on one bridge comes back through
    the host; conntrack sysctls left alone (maxPerCore 0) on a shared machine."""
    cfg = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1", "kind": "KubeProxyConfiguration",
        "clientConnection": {"kubeconfig": str(kubeconfig)}, "hostnameOverride": NODE,
        "mode": "iptables", "clusterCIDR": CLUSTER_CIDR,
        "iptables": {"masqueradeAll": True}, "conntrack": {"maxPerCore": 0},
        "healthzBindAddress": f"127.0.0.1:{layout.proxy_healthz_port}",
        "metricsBindAddress": f"127.0.0.1:{layout.proxy_metrics_port}",
    }
    return yaml.safe_dump(cfg, sort_keys=False)


def registry_yaml(layout: Layout) -> str:
    cfg = {
        "version": 0.1, "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(layout.directory / "registry")},
                    "delete": {"enabled": True}},
        "http": {"addr": layout.registry},
    }
    return yaml.safe_dump(cfg, sort_keys=False)


def corefile(layout: Layout, kubeconfig: Path) -> str:
    """CoreDNS on the bridge's address: cluster.local from the apiserver, the rest from the host."""
    return f""".:53 {{
    bind {GATEWAY}
    errors
    ready 127.0.0.1:{layout.coredns_ready_port}
    kubernetes cluster.local in-addr.arpa ip6.arpa {{
        kubeconfig {kubeconfig} c8s-test
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }}
    forward . /etc/resolv.conf
    cache 30
}}
"""
