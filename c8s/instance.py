"""How a CLI command reaches a running c8s: the NATS URL (`--server`, `C8S_SERVER`, default
nats://127.0.0.1:4222) and the CLI's bus identity (`C8S_NATS_USER`, `C8S_NATS_PASSWORD`, printed by
`c8s dev up` as export lines; `C8S_NATS_CA_FILE` for a TLS server), one connection shared by the
resource store and the bus, closed on exit.

In Kubernetes mode the resources are on a cluster: `--kubeconfig FILE`, or $KUBECONFIG when no
`--server` is given, selects the Kubernetes resource store (adapters.kube.store) instead of the
NATS KV store. The bus (`events`, `logs -f`) is still NATS at the server URL, connected only by
the commands that need it.

The connection fails fast (two attempts, short timeouts): a command must answer "no server at URL"
within a second, not reconnect forever as a service does.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.connection import NatsConnection
from adapters.jetstream.kv.store import KvStore
from adapters.jetstream.settings import BusSettings
from adapters.kube.client import KubeSettings
from adapters.kube.store import KubeStore
from c8s.failures import CliError
from ports.bus_errors import BusError, BusRefused
from ports.resources import ResourceStore, StoreError

DEFAULT_SERVER = "nats://127.0.0.1:4222"
SERVER_VARIABLE = "C8S_SERVER"
USER_VARIABLE = "C8S_NATS_USER"
PASSWORD_VARIABLE = "C8S_NATS_PASSWORD"
CA_VARIABLE = "C8S_NATS_CA_FILE"


def add_server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        metavar="NATS_URL",
        default=None,
        help=f"the c8s instance's NATS URL (default: ${SERVER_VARIABLE}, else {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--kubeconfig",
        metavar="FILE",
        default=None,
        help="read and write resources on this cluster (Kubernetes mode; default: $KUBECONFIG "
        "when --server is not given)",
    )


def add_namespace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")


def server_url(args: argparse.Namespace) -> str:
    return str(getattr(args, "server", None) or os.environ.get(SERVER_VARIABLE) or DEFAULT_SERVER)


def kubeconfig_of(args: argparse.Namespace) -> str | None:
    """The kubeconfig selecting Kubernetes mode: --kubeconfig, else $KUBECONFIG unless --server."""
    explicit = getattr(args, "kubeconfig", None)
    if explicit:
        return str(explicit)
    if getattr(args, "server", None):
        return None
    return os.environ.get("KUBECONFIG") or None


def settings_for(url: str, env: Mapping[str, str] | None = None) -> BusSettings:
    """The CLI's connection to `url`, as the identity in `env` (default: the process environment)."""
    source = os.environ if env is None else env
    return BusSettings(
        servers=[url],
        name="c8s-cli",
        user=source.get(USER_VARIABLE, ""),
        password=source.get(PASSWORD_VARIABLE, ""),
        tls_ca_file=source.get(CA_VARIABLE, ""),
        connect_timeout=2.0,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=1,
        request_timeout=5.0,
    )


@dataclass(frozen=True)
class Instance:
    """A connected instance: its resource store and its event bus (NATS at `url`)."""

    url: str
    connection: NatsConnection
    store: ResourceStore
    bus: NatsBus


@asynccontextmanager
async def connected(
    url: str, kubeconfig: str | None = None, env: Mapping[str, str] | None = None
) -> AsyncIterator[Instance]:
    """The instance whose bus is at `url`; its resources on the cluster of `kubeconfig` if given."""
    async with bus_connected(url, env) as conn:
        if kubeconfig is None:
            yield Instance(url=url, connection=conn, store=KvStore.from_connection(conn), bus=NatsBus(conn))
            return
        async with cluster_store(kubeconfig) as store:
            yield Instance(url=url, connection=conn, store=store, bus=NatsBus(conn))


@asynccontextmanager
async def resources(args: argparse.Namespace) -> AsyncIterator[ResourceStore]:
    """Only the resource store: on the cluster (no NATS needed), or the instance's KV store."""
    kubeconfig = kubeconfig_of(args)
    if kubeconfig is None:
        async with connected(server_url(args)) as instance:
            yield instance.store
        return
    async with cluster_store(kubeconfig) as store:
        yield store


@asynccontextmanager
async def bus_connected(url: str, env: Mapping[str, str] | None = None) -> AsyncIterator[NatsConnection]:
    """Connect to NATS at `url`; a CliError naming the URL when nothing answers there, or naming
    the variables to set when the server refuses the credentials."""
    settings = settings_for(url, env)
    conn = NatsConnection(settings)
    try:
        await conn.connect()
    except BusRefused as e:
        raise CliError(_refused(url, settings.user)) from e
    except BusError as e:
        message = f"no c8s server answers at {url}: start one with `c8s dev up` (or pass --server)"
        raise CliError(message) from e
    try:
        yield conn
    finally:
        await conn.close()


def _refused(url: str, user: str) -> str:
    who = f"user {user!r}" if user else f"no credentials (${USER_VARIABLE} is not set)"
    return (
        f"the c8s server at {url} refused {who}: set ${USER_VARIABLE} and ${PASSWORD_VARIABLE} "
        "to the CLI's credentials (the export lines `c8s dev up` prints, also in DIR/nats/cli.env)"
    )


@asynccontextmanager
async def cluster_store(kubeconfig: str) -> AsyncIterator[KubeStore]:
    """The Kubernetes resource store of the cluster in `kubeconfig` (a CliError when unusable)."""
    try:
        store = await KubeStore.connect(KubeSettings(kubeconfig=kubeconfig))
    except StoreError as e:
        raise CliError(f"--kubeconfig {kubeconfig}: {e}") from e
    try:
        yield store
    finally:
        await store.close()
