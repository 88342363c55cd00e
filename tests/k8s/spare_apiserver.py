"""A second kube-apiserver on the plane's etcd that a test may stop and start (the plane's own is
shared by every test and cannot be restarted), plus the c8s CRDs installed once per session.

It runs with the plane apiserver's own flags (read from the first line of its log, which the plane
writes for exactly this kind of reuse) on another port, with `--endpoint-reconciler-type=none` so
two apiservers do not fight over the `kubernetes` Service endpoints. stop() kills it (SIGKILL, like a
crash); a restart keeps the port, so a client's kubeconfig stays valid. Readiness is polled on
/readyz with a deadline.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import plane as plane_mod
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CRD_DIR = REPO / "deploy" / "300-crds"
READY_TIMEOUT = 60.0


class SpareApiserver:
    def __init__(self, plane: plane_mod.Plane) -> None:
        self.plane = plane
        (self.port,) = plane_mod.free_ports(1)
        self.server = f"https://127.0.0.1:{self.port}"
        self.log_path = plane.directory / "spare-apiserver.log"
        self.kubeconfig = plane.directory / "spare.kubeconfig"
        self._args = self._command()
        self._proc: subprocess.Popen[bytes] | None = None
        cfg = yaml.safe_load(plane.kubeconfig.read_text())
        cfg["clusters"][0]["cluster"]["server"] = self.server
        self.kubeconfig.write_text(yaml.safe_dump(cfg))

    def _command(self) -> list[str]:
        first = (self.plane.directory / "kube-apiserver.log").read_text().splitlines()[0]
        binary, *args = first.removeprefix("# ").split(" ")
        args = [a for a in args if not a.startswith("--secure-port=")]
        return [binary, *args, f"--secure-port={self.port}", "--endpoint-reconciler-type=none"]

    def start(self) -> None:
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT,
                                          cwd=self.plane.directory, env={"PATH": os.environ.get("PATH", "")})
        self._wait_ready()

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        # SIGKILL, as a crash: SIGTERM's graceful shutdown waits for open watches to time out.
        proc.kill()
        proc.wait()

    def _wait_ready(self) -> None:
        ctx = ssl.create_default_context(cafile=str(self.plane.pki.ca.cert))
        ctx.load_cert_chain(str(self.plane.pki.admin.cert), str(self.plane.pki.admin.key))
        deadline, last = time.monotonic() + READY_TIMEOUT, "no answer"
        while time.monotonic() < deadline:
            if self._proc is None or self._proc.poll() is not None:
                raise AssertionError(f"spare apiserver exited; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.server}/readyz", context=ctx, timeout=5) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError) as e:
                last = repr(e)
            time.sleep(0.2)
        raise AssertionError(f"spare apiserver not ready in {READY_TIMEOUT}s ({last}); see {self.log_path}")


def kubectl_env(plane: plane_mod.Plane) -> dict[str, str]:
    return {"PATH": os.environ.get("PATH", ""), "KUBECONFIG": str(plane.kubeconfig),
            "HOME": str(plane.directory)}


@pytest.fixture(scope="session")
def c8s_crds(control_plane: plane_mod.Plane) -> None:
    """deploy/300-crds applied (kubectl apply, idempotent) and Established."""
    env = kubectl_env(control_plane)
    kubectl = str(control_plane.kubectl)
    subprocess.run([kubectl, "apply", "-f", str(CRD_DIR)], env=env, check=True, capture_output=True)
    subprocess.run([kubectl, "wait", "--for=condition=Established", "--timeout=60s", "-f", str(CRD_DIR)],
                   env=env, check=True, capture_output=True)


@pytest.fixture(scope="session")
def spare_apiserver(control_plane: plane_mod.Plane, c8s_crds: None) -> Iterator[SpareApiserver]:
    spare = SpareApiserver(control_plane)
    spare.start()
    yield spare
    spare.stop()
