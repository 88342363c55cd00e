"""What `c8s dev up` runs and where it keeps things under its directory (DIR, default ./.c8s):

    DIR/jetstream/        nats-server's JetStream store (streams, KV buckets: the resource store)
    DIR/nats/             the bus identities: passwords, nats-server's authorization, the CLI's
                          export lines, all 0600 (c8s.dev.credentials)
    DIR/logs/<name>.log   each child's output (nats-server, every service, git-daemon)
    DIR/objects/          object storage (file://): shipped logs and artifacts
    DIR/runs/, ...        the runner's working state (checkouts, step outputs)
    DIR/demo/             with --demo: the sample repository and its manifests

Every service gets the same environment: C8S_MODE=local, C8S_NATS_URL, C8S_HOME=DIR, and the
webhook's C8S_LISTEN_HOST/PORT (the dashboard's own port instead, for the dashboard); a service
reads only the variables of its own settings. C8S_DASHBOARD_URL points the notifier's commit-status
links at the dashboard (C8S_PUBLIC_URL stays the webhook's, where providers deliver). Each service
also gets its own bus identity (C8S_NATS_USER/C8S_NATS_PASSWORD) and no other's.

With a kubeconfig (`c8s dev up --kubeconfig FILE`) the services run in Kubernetes mode against that
cluster: C8S_MODE=kubernetes, C8S_KUBECONFIG=FILE, the job-watcher instead of the runner, C8S_LOG_STORE
from --log-store (else DIR/objects), metrics ports off (the processes share one machine); S3
endpoint and keys reach them through the standard AWS_* variables of dev up's own environment.
Step pods get none of those: the scheduler gets the artifact upload key (DIR/upload.key) and the
URL of the job-watcher's upload endpoint (a free port on 127.0.0.1), and mints a token per step.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from adapters.jetstream.server import nats_server_binary
from c8s.dev.credentials import PASSWORD_VARIABLE, USER_VARIABLE, Credentials, identity_of
from c8s.dev.supervisor import ChildSpec

#: Start order; stop order is the reverse (services first, nats-server last).
SERVICES = ("projector", "scheduler", "runner", "log_shipper", "notifier", "webhook", "dashboard")
#: Kubernetes mode: steps are Jobs, watched by the job-watcher; there is no runner.
KUBE_SERVICES = ("projector", "scheduler", "job_watcher", "log_shipper", "notifier", "webhook", "dashboard")
HOST = "127.0.0.1"
#: What `--replicas N` multiplies: every service but the dashboard (a page for people). Replicas share
#: work as in a cluster (docs/scaling.md); the webhook's share one port (SO_REUSEPORT), as pods share
#: a Service.
REPLICATED = frozenset(
    {"projector", "scheduler", "runner", "job_watcher", "log_shipper", "notifier", "webhook"}
)


@dataclass(frozen=True)
class Layout:
    home: Path
    nats_port: int
    webhook_port: int
    #: Kubernetes mode against this cluster; None: local mode.
    kubeconfig: Path | None = None
    #: Object storage base URL (C8S_LOG_STORE); "": DIR/objects.
    log_store: str = ""
    dashboard_port: int = 8081
    #: The bus identities (c8s.dev.credentials.prepare); None: a server without authorization.
    credentials: Credentials | None = None
    #: Kubernetes mode: the job-watcher's artifact upload endpoint and its token key
    #: (c8s.dev.credentials.upload_key); "": none (local mode: the runner uploads artifacts itself).
    upload_port: int = 0
    upload_key: str = ""
    #: Processes per service in REPLICATED (`--replicas`).
    replicas: int = 1

    @property
    def services(self) -> tuple[str, ...]:
        return SERVICES if self.kubeconfig is None else KUBE_SERVICES

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    @property
    def nats_url(self) -> str:
        return f"nats://{HOST}:{self.nats_port}"

    @property
    def object_store_url(self) -> str:
        """Where logs and artifacts go: --log-store, else DIR/objects."""
        return self.log_store or (self.home / "objects").as_uri()

    @property
    def webhook_url(self) -> str:
        return f"http://{HOST}:{self.webhook_port}"

    @property
    def dashboard_url(self) -> str:
        return f"http://{HOST}:{self.dashboard_port}"

    def log_of(self, name: str) -> Path:
        return self.logs / f"{name.replace('_', '-')}.log"


def nats_spec(layout: Layout) -> ChildSpec:
    store = str(layout.home / "jetstream")
    argv: tuple[str, ...] = (nats_server_binary(), "-js", "-a", HOST, "-p", str(layout.nats_port))
    argv += ("-sd", store)
    if layout.credentials is not None:
        argv += ("-c", str(layout.credentials.config))
    log = layout.log_of("nats-server")
    return ChildSpec(name="nats-server", argv=argv, env=dict(os.environ), log_path=log)


def available_services(services: tuple[str, ...] = SERVICES) -> tuple[list[str], list[str]]:
    """(services this installation has, services it lacks): each is a `services.<name>` package."""
    have = [name for name in services if importlib.util.find_spec(f"services.{name}.__main__") is not None]
    return have, [name for name in services if name not in have]


def service_spec(
    layout: Layout, name: str, base_env: Mapping[str, str] | None = None, replica: int = 1
) -> ChildSpec:
    """The child for one replica of `name`: replica 1 is `name`, replica n > 1 is `name-n` (its own
    log file); every replica of a service runs as the same bus identity."""
    child = name if replica == 1 else f"{name}_{replica}"
    return ChildSpec(
        name=child.replace("_", "-"),
        argv=(sys.executable, "-m", f"services.{name}"),
        env=service_spec_env(layout, name, base_env if base_env is not None else os.environ),
        log_path=layout.log_of(child),
    )


def replicas_of(layout: Layout, name: str) -> range:
    """The replica numbers dev up starts for `name` (1..N for REPLICATED services, else 1)."""
    return range(1, (layout.replicas if name in REPLICATED else 1) + 1)


def service_env(layout: Layout, base: Mapping[str, str]) -> dict[str, str]:
    return {
        **base,
        "C8S_MODE": "local",
        "C8S_NATS_URL": layout.nats_url,
        "C8S_HOME": str(layout.home),
        "C8S_LISTEN_HOST": HOST,
        "C8S_LISTEN_PORT": str(layout.webhook_port),
        "C8S_PUBLIC_URL": f"http://{HOST}:{layout.webhook_port}",
        "C8S_DASHBOARD_URL": layout.dashboard_url,
        "C8S_STOP_STEPS_ON_EXIT": "true",
        "PYTHONUNBUFFERED": "1",
        **_kube_env(layout),
        **({"C8S_LOG_STORE": layout.log_store} if layout.log_store else {}),
    }


def service_spec_env(layout: Layout, name: str, base: Mapping[str, str]) -> dict[str, str]:
    """service_env plus what is the service's own: its bus identity (never the CLI's, if dev up
    has it) and, for the dashboard, its listening port."""
    env = service_env(layout, base) | _own_env(layout, name)
    env.pop(USER_VARIABLE, None)
    env.pop(PASSWORD_VARIABLE, None)
    if layout.credentials is not None:
        env |= layout.credentials.env_of(identity_of(name))
    return env


def _own_env(layout: Layout, name: str) -> dict[str, str]:
    """What differs for one service: the dashboard listens on its own port; in Kubernetes mode the
    scheduler mints artifact upload tokens for the job-watcher's endpoint, which checks them."""
    if name == "dashboard":
        return {"C8S_LISTEN_PORT": str(layout.dashboard_port)}
    if not layout.upload_key:
        return {}
    if name == "scheduler":
        url = f"http://{HOST}:{layout.upload_port}"
        return {"C8S_ARTIFACT_UPLOAD_URL": url, "C8S_ARTIFACT_UPLOAD_KEY": layout.upload_key}
    if name == "job_watcher":
        key, port = layout.upload_key, str(layout.upload_port)
        return {"C8S_ARTIFACT_UPLOAD_KEY": key, "C8S_UPLOAD_HOST": HOST, "C8S_UPLOAD_PORT": port}
    return {}


def _kube_env(layout: Layout) -> dict[str, str]:
    if layout.kubeconfig is None:
        return {}
    return {"C8S_MODE": "kubernetes", "C8S_KUBECONFIG": str(layout.kubeconfig), "C8S_METRICS_PORT": "0"}


def shown(path: Path) -> str:
    """A path relative to the working directory when it is below it (shorter to read)."""
    try:
        return os.path.relpath(path) if path.is_relative_to(Path.cwd()) else str(path)
    except ValueError:
        return str(path)
