"""Finding tests/cluster/build's output dir ($C8S_CLUSTER_BUILD, else running the build, cached by key):
the binaries in its bin/, the images as <name>.oci.tar beside bin/."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
REQUIRED = ("kubelet", "kube-scheduler", "kube-proxy", "containerd", "containerd-shim-runc-v2",
            "registry", "coredns", "crictl")


class BuildError(Exception):
    """The node binaries are missing; the message says how to build them."""


def find() -> Path:
    """The build's dir; its bin/ holds every REQUIRED binary."""
    configured = os.environ.get("C8S_CLUSTER_BUILD")
    if configured:
        build_dir = Path(configured)
    else:
        result = subprocess.run([str(HERE / "build")], stdout=subprocess.PIPE, text=True, check=False)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines:
            raise BuildError(f"tests/cluster/build failed (exit {result.returncode}), see its output")
        build_dir = Path(lines[-1])
    bin_dir = build_dir / "bin"
    missing = [b for b in REQUIRED if not os.access(bin_dir / b, os.X_OK)]
    if missing:
        raise BuildError(f"{', '.join(missing)} missing in {bin_dir}: run tests/cluster/build and export "
                         "C8S_CLUSTER_BUILD=<its last line>")
    return build_dir
