"""Settings of the NATS JetStream bus adapter: one frozen Struct, checked when it is built.

Defaults fit production (reconnect forever, a 10-minute dedupe window, 30 s ack wait); tests and
the benchmark shorten the timeouts. Unknown keys and bad values are rejected at start-up.
"""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta, Struct, field

Seconds = Annotated[float, Meta(gt=0)]
MiB = 1024 * 1024


class BusSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    servers: list[str] = field(default_factory=lambda: ["nats://127.0.0.1:4222"])
    #: Connection name shown by the server's monitoring, and `ce-source` is `c8s/<name>`.
    name: str = "c8s"
    #: This process's identity on an authenticating server (adapters.jetstream.permissions);
    #: "" connects without credentials (a server without authorization, e.g. the tests' own).
    user: str = ""
    password: str = ""
    #: PEM CA bundle that signs the server's TLS certificate ("" : the URL decides, nats:// = plain).
    tls_ca_file: str = ""
    duplicate_window: Seconds = 600.0
    max_msg_size: Annotated[int, Meta(gt=0)] = MiB
    request_timeout: Seconds = 5.0
    connect_timeout: Seconds = 2.0
    reconnect_time_wait: Seconds = 1.0
    #: -1: reconnect forever (a service outlives any server outage).
    max_reconnect_attempts: int = -1
    ack_wait: Seconds = 30.0
    #: -1: redeliver without limit (a crash loop is visible; a lost event is not).
    max_deliver: int = -1
    max_ack_pending: Annotated[int, Meta(gt=0)] = 1000
    fetch_batch: Annotated[int, Meta(gt=0, le=1000)] = 100
    fetch_timeout: Seconds = 2.0
    #: A consumer that got nothing for this long checks that its JetStream consumer still exists.
    stall_check: Seconds = 10.0
    #: Update an existing stream whose configuration differs (only the stream manager's identity
    #: may: adapters.jetstream.permissions); others create a missing stream and use it as it is.
    manage_streams: bool = True
    #: Replicas of each stream: 1 on a single server, 3 on a 3-node cluster (R3).
    stream_replicas: Annotated[int, Meta(ge=1, le=5)] = 1

    @property
    def source(self) -> str:
        return f"c8s/{self.name}"

    @property
    def inbox_prefix(self) -> str:
        """Replies come to `_INBOX.<user>.…`, the only inboxes this identity may subscribe to."""
        return f"_INBOX.{self.user}" if self.user else "_INBOX"
