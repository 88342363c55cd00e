"""How a CLI command reaches a running c8s: the NATS URL (`--server`, `C8S_SERVER`, default
nats://127.0.0.1:4222), one connection shared by the resource store and the bus, closed on exit.

The connection fails fast (two attempts, short timeouts): a command must answer "no server at URL"
within a second, not reconnect forever as a service does.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from adapters.kv_store import KvStore
from adapters.nats_bus import NatsBus
from adapters.nats_connection import NatsConnection
from adapters.nats_settings import BusSettings
from c8s.failures import CliError
from ports.bus_errors import BusError

DEFAULT_SERVER = "nats://127.0.0.1:4222"
SERVER_VARIABLE = "C8S_SERVER"


def add_server_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        metavar="NATS_URL",
        default=None,
        help=f"the c8s instance's NATS URL (default: ${SERVER_VARIABLE}, else {DEFAULT_SERVER})",
    )


def add_namespace_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-n", "--namespace", default="default", help="namespace (default: default)")


def server_url(args: argparse.Namespace) -> str:
    return str(getattr(args, "server", None) or os.environ.get(SERVER_VARIABLE) or DEFAULT_SERVER)


def settings_for(url: str) -> BusSettings:
    return BusSettings(
        servers=[url],
        name="c8s-cli",
        connect_timeout=2.0,
        reconnect_time_wait=0.1,
        max_reconnect_attempts=1,
        request_timeout=5.0,
    )


@dataclass(frozen=True)
class Instance:
    """A connected instance: its resource store and its event bus, over one connection."""

    url: str
    connection: NatsConnection
    store: KvStore
    bus: NatsBus


@asynccontextmanager
async def connected(url: str) -> AsyncIterator[Instance]:
    """Connect to the instance at `url`; a CliError naming the URL when nothing answers there."""
    conn = NatsConnection(settings_for(url))
    try:
        await conn.connect()
    except BusError as e:
        message = f"no c8s server answers at {url}: start one with `c8s dev up` (or pass --server)"
        raise CliError(message) from e
    try:
        yield Instance(url=url, connection=conn, store=KvStore.from_connection(conn), bus=NatsBus(conn))
    finally:
        await conn.close()
