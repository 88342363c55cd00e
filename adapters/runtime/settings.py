"""Service configuration from the environment, checked at start-up.

Each service declares a frozen Struct; `from_env` reads `C8S_<FIELD>` for each of its fields
(nothing else), converts strings to the declared types and fails with one line per bad value that
names the variable and what it should be, before the service does anything (Prow's validate()).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, TypeVar

import msgspec
from msgspec import Meta, Struct

PREFIX = "C8S_"
T = TypeVar("T", bound=Struct)
Mode = Literal["local", "kubernetes"]


class ConfigError(Exception):
    """The environment does not describe a valid configuration; the message says how to fix it."""


class CommonSettings(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What every service needs. `home` is local mode's state directory (stores, logs, work dirs)."""

    nats_url: str = "nats://127.0.0.1:4222"
    #: This service's bus identity (adapters.jetstream.permissions); "": no credentials.
    nats_user: str = ""
    nats_password: str = ""
    #: CA bundle of the NATS server's TLS certificate (Kubernetes mode: from a Secret).
    nats_ca_file: str = ""
    mode: Mode = "local"
    home: str = ".c8s"
    #: Object storage base URL for logs and artifacts: file:///... or s3://bucket/prefix.
    log_store: str = ""
    kubeconfig: str = ""
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    #: How long a consumer's unacked message waits before redelivery (a crashed handler's work
    #: is picked up again after this); tests of kill -9 shorten it.
    ack_wait_seconds: Annotated[float, Meta(gt=0)] = 30.0
    #: Replicas of the JetStream streams (3 on a 3-node NATS cluster: deploy/overlays/nats-cluster).
    stream_replicas: Annotated[int, Meta(ge=1, le=5)] = 1

    @property
    def object_store_url(self) -> str:
        return self.log_store or (Path(self.home).resolve() / "objects").as_uri()


def variable(field: str) -> str:
    return PREFIX + field.upper()


def from_env(cls: type[T], env: Mapping[str, str] | None = None) -> T:
    source = os.environ if env is None else env
    fields = msgspec.structs.fields(cls)
    raw = {f.name: source[variable(f.name)] for f in fields if variable(f.name) in source}
    try:
        return msgspec.convert(raw, cls, strict=False)
    except msgspec.ValidationError as e:
        raise ConfigError(_explain(str(e))) from e


def _explain(message: str) -> str:
    """msgspec says `... - at `$.nats_url``; name the environment variable instead."""
    text, _, where = message.partition(" - at `$.")
    field = where.rstrip("`").split(".")[0].split("[")[0]
    return f"{variable(field)}: {text}" if field else f"configuration: {text}"
