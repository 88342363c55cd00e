"""The composition root: which adapter serves each port, chosen once from the settings' mode.

Services call these and see only ports. Local mode: NATS KV resource store, the runner as
executor (adapters.local_executor), fsspec `file://` (or any URL) object storage. Kubernetes mode
plugs its adapters in here and nowhere else.
"""

from __future__ import annotations

from adapters.health_server import READINESS
from adapters.local_executor import LocalExecutor
from adapters.local_steplogs import LocalStepLogs
from adapters.nats_bus import NatsBus
from adapters.nats_settings import BusSettings
from adapters.settings import CommonSettings, ConfigError
from ports.execution import Executor, StepLogs
from ports.objects import ObjectStore
from ports.quotas import Quotas
from ports.resources import ResourceStore
from ports.step_workloads import StepWorkloads


async def connect_bus(settings: CommonSettings, service: str) -> NatsBus:
    bus_settings = BusSettings(
        servers=[settings.nats_url],
        name=service,
        ack_wait=settings.ack_wait_seconds,
        stream_replicas=settings.stream_replicas,
    )
    bus = await NatsBus.connect(bus_settings)
    await bus.ensure_streams()
    READINESS.add("nats", lambda: bus.connection.is_connected)
    return bus


async def open_store(settings: CommonSettings, bus: NatsBus) -> ResourceStore:
    if settings.mode == "local":
        from adapters.kv_store import KvStore

        store = KvStore.from_connection(bus.connection)
        await store.ensure_buckets()
        return store
    from adapters.kube_client import KubeSettings
    from adapters.kube_store import KubeStore

    return await KubeStore.connect(KubeSettings(kubeconfig=settings.kubeconfig))


async def open_cluster(settings: CommonSettings) -> tuple[ResourceStore, Quotas]:
    """The cluster's resources and quotas on one API client (the admission webhook's reads)."""
    if settings.mode != "kubernetes":
        raise ConfigError("the admission webhook runs in Kubernetes mode only (C8S_MODE=kubernetes)")
    from adapters.kube_client import KubeSettings, api_client
    from adapters.kube_quotas import KubeQuotas
    from adapters.kube_store import KubeStore

    kube = KubeSettings(kubeconfig=settings.kubeconfig)
    api = await api_client(kube)
    return KubeStore(api, kube, owns_client=True), KubeQuotas(api)


async def quotas(settings: CommonSettings) -> Quotas:
    """Namespace ResourceQuotas for the scheduler: the cluster's, or none in local mode."""
    if settings.mode == "local":
        from adapters.local_quotas import NoQuotas

        return NoQuotas()
    from adapters.kube_client import KubeSettings, api_client
    from adapters.kube_quotas import KubeQuotas

    return KubeQuotas(await api_client(KubeSettings(kubeconfig=settings.kubeconfig)))


def open_objects(settings: CommonSettings) -> ObjectStore:
    """Object storage for logs and artifacts at settings.object_store_url (file://, s3://)."""
    from adapters.object_store import FsspecObjectStore

    return FsspecObjectStore(settings.object_store_url)


def executor(settings: CommonSettings) -> Executor:
    if settings.mode == "local":
        return LocalExecutor()
    from adapters.kube_jobs import kube_executor

    return kube_executor(settings)


def step_logs(settings: CommonSettings, poll_seconds: float = 0.1) -> StepLogs:
    """Where a step's raw output is read: the runner's files under home (local mode), pods/log."""
    if settings.mode == "local":
        return LocalStepLogs(settings.home, poll_seconds=poll_seconds)
    from adapters.kube_connection import KubeConnection
    from adapters.kube_steplogs import KubeStepLogs

    return KubeStepLogs(KubeConnection(settings.kubeconfig), poll_seconds=poll_seconds)


def step_workloads(settings: CommonSettings) -> StepWorkloads:
    """Jobs and pods of steps, for the job-watcher (Kubernetes mode only)."""
    if settings.mode != "kubernetes":
        raise ConfigError("the job-watcher runs in Kubernetes mode only (C8S_MODE=kubernetes)")
    from adapters.kube_connection import KubeConnection
    from adapters.kube_workloads import KubeWorkloads

    return KubeWorkloads(KubeConnection(settings.kubeconfig))
