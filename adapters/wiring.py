"""The composition root: which adapter serves each port, chosen once from the settings' mode.

Services call these and see only ports (an import-linter contract keeps them off the technology
folders); only this module knows that a Bus is a NatsBus whose connection also serves the KV store,
the delivery log and the live log lines. Local mode: NATS KV resource store, the runner as
executor (adapters.local.executor), fsspec `file://` (or any URL) object storage. Kubernetes mode
plugs its adapters in here and nowhere else.
"""

from __future__ import annotations

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.permissions import STREAM_MANAGER
from adapters.jetstream.settings import BusSettings
from adapters.local.executor import LocalExecutor
from adapters.local.steplogs import LocalStepLogs
from adapters.runtime.health import READINESS
from adapters.runtime.lifecycle import close_on_exit
from adapters.runtime.settings import CommonSettings, ConfigError
from ports.access import Access
from ports.bus import Bus
from ports.deliveries import DeliveryLog
from ports.execution import Executor, StepLogs
from ports.http import HttpClient, RetryPolicy
from ports.live import LiveLines, LiveLog
from ports.objects import ObjectStore
from ports.quotas import Quotas
from ports.resources import ResourceStore
from ports.step_workloads import StepWorkloads


async def connect_bus(settings: CommonSettings, service: str) -> Bus:
    bus_settings = BusSettings(
        servers=[settings.nats_url],
        name=service,
        user=settings.nats_user,
        password=settings.nats_password,
        tls_ca_file=settings.nats_ca_file,
        ack_wait=settings.ack_wait_seconds,
        stream_replicas=settings.stream_replicas,
        manage_streams=settings.nats_user in ("", STREAM_MANAGER),
    )
    bus = await NatsBus.connect(bus_settings)
    await bus.ensure_streams()
    READINESS.add("nats", lambda: bus.is_connected)
    return bus


def _nats(bus: Bus) -> NatsBus:
    if not isinstance(bus, NatsBus):
        raise TypeError(f"expected the bus from connect_bus, got {type(bus).__name__}")
    return bus


async def open_store(settings: CommonSettings, bus: Bus) -> ResourceStore:
    if settings.mode == "local":
        from adapters.jetstream.kv.store import KvStore

        store = KvStore.from_connection(_nats(bus).connection)
        await store.ensure_buckets()
        return store
    from adapters.kube.client import KubeSettings
    from adapters.kube.store import KubeStore

    kube = await KubeStore.connect(KubeSettings(kubeconfig=settings.kubeconfig))
    close_on_exit(kube.close)
    return kube


async def open_cluster(settings: CommonSettings) -> tuple[ResourceStore, Quotas]:
    """The cluster's resources and quotas on one API client (the admission webhook's reads)."""
    if settings.mode != "kubernetes":
        raise ConfigError("the admission webhook runs in Kubernetes mode only (C8S_MODE=kubernetes)")
    from adapters.kube.client import KubeSettings, api_client
    from adapters.kube.quotas import KubeQuotas
    from adapters.kube.store import KubeStore

    kube = KubeSettings(kubeconfig=settings.kubeconfig)
    api = await api_client(kube)
    store = KubeStore(api, kube, owns_client=True)
    close_on_exit(store.close)
    return store, KubeQuotas(api)


async def quotas(settings: CommonSettings) -> Quotas:
    """Namespace ResourceQuotas for the scheduler: the cluster's, or none in local mode."""
    if settings.mode == "local":
        from adapters.local.quotas import NoQuotas

        return NoQuotas()
    from adapters.kube.client import KubeSettings, api_client
    from adapters.kube.quotas import KubeQuotas

    api = await api_client(KubeSettings(kubeconfig=settings.kubeconfig))
    close_on_exit(api.close)
    return KubeQuotas(api)


def open_objects(settings: CommonSettings) -> ObjectStore:
    """Object storage for logs and artifacts at settings.object_store_url (file://, s3://)."""
    from adapters.object_store import FsspecObjectStore

    return FsspecObjectStore(settings.object_store_url)


def token_uploads(endpoint: str, token: str, base_url: str) -> ObjectStore:
    """Upload-only object storage through c8s's artifact endpoint with one step's token (the
    artifact sidecar: no storage credentials in a step pod)."""
    from adapters.artifact_uploads import TokenUploadStore

    return TokenUploadStore(endpoint, token, base_url)


def live_log(bus: Bus) -> LiveLog:
    """Live log lines on core NATS, over the bus's own connection."""
    from adapters.jetstream.live import NatsLiveLog

    return NatsLiveLog(_nats(bus).connection)


def live_lines(bus: Bus, namespace: str, run: str, step: str | None = None) -> LiveLines:
    """A reader of one run's live log lines (one step's, or every step's), on the bus's connection."""
    from adapters.jetstream.live_reader import LiveLogLines

    return LiveLogLines(_nats(bus).connection, namespace, run, step)


async def delivery_log(bus: Bus, ttl_seconds: float) -> DeliveryLog:
    """The webhook's record of deliveries already handled (a KV bucket whose entries expire)."""
    from adapters.jetstream.kv.deliveries import KvDeliveryLog

    return await KvDeliveryLog.open(_nats(bus).connection, ttl_seconds)


def http_client(policy: RetryPolicy, user_agent: str) -> HttpClient:
    """Calls to outside HTTP APIs, retried by `policy`; close it with `await client.close()`."""
    from adapters.http_client import AiohttpClient

    return AiohttpClient(policy, user_agent=user_agent)


def executor(settings: CommonSettings) -> Executor:
    if settings.mode == "local":
        return LocalExecutor()
    from adapters.kube.jobs import kube_executor

    kube = kube_executor(settings)
    close_on_exit(kube.connection.close)
    return kube


def step_logs(settings: CommonSettings, poll_seconds: float = 0.1) -> StepLogs:
    """Where a step's raw output is read: the runner's files under home (local mode), pods/log."""
    if settings.mode == "local":
        return LocalStepLogs(settings.home, poll_seconds=poll_seconds)
    from adapters.kube.connection import KubeConnection
    from adapters.kube.steplogs import KubeStepLogs

    connection = KubeConnection(settings.kubeconfig)
    close_on_exit(connection.close)
    return KubeStepLogs(connection, poll_seconds=poll_seconds)


async def access(settings: CommonSettings) -> Access | None:
    """Who may see and act on runs: the apiserver's RBAC in Kubernetes mode; None in local mode."""
    if settings.mode != "kubernetes":
        return None
    from adapters.kube.access import KubeAccess
    from adapters.kube.client import KubeSettings, api_client

    return KubeAccess(await api_client(KubeSettings(kubeconfig=settings.kubeconfig)))


def step_workloads(settings: CommonSettings) -> StepWorkloads:
    """Jobs and pods of steps, for the job-watcher (Kubernetes mode only)."""
    if settings.mode != "kubernetes":
        raise ConfigError("the job-watcher runs in Kubernetes mode only (C8S_MODE=kubernetes)")
    from adapters.kube.connection import KubeConnection
    from adapters.kube.workloads import KubeWorkloads

    connection = KubeConnection(settings.kubeconfig)
    close_on_exit(connection.close)
    return KubeWorkloads(connection)
