"""Kubernetes mode's NATS configuration (deploy/410-nats-config.yaml) on a real nats-server, with a
certificate made here by openssl and the passwords the StatefulSet would read from the Secret.

Covers: the generated configuration, its `$NATS_PASSWORD_*` references filled from the server's
environment, loads; a service with the CA file connects over TLS as its identity and publishes; a
client that does not speak TLS, or as nobody, gets no connection.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from adapters.jetstream.bus import NatsBus
from adapters.jetstream.server import free_port, nats_server_binary
from adapters.jetstream.settings import BusSettings
from c8s import gen_nats_conf
from events.run import StepStarted
from ports.bus_errors import BusError
from tests.support.runs import at


def certificate(directory: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 signed by it (tls.crt, tls.key, ca.crt)."""
    def run(*argv: str) -> None:
        subprocess.run(["openssl", *argv], cwd=directory, check=True, capture_output=True)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt",
        "-days", "1", "-subj", "/CN=c8s-test-ca")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "tls.csr", "-subj", "/CN=nats")
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "tls.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "tls.crt", "-days", "1", "-extfile", "san.ext")  # fmt: skip


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, str]]]:
    """nats-server running the generated ConfigMap's nats.conf, TLS files and passwords from tmp."""
    certificate(tmp_path)
    configmap = yaml.safe_load((gen_nats_conf.OUT).read_text())
    conf = configmap["data"]["nats.conf"].replace("/etc/nats/tls", str(tmp_path))
    (tmp_path / "nats.conf").write_text(conf)
    passwords = {u: secrets.token_hex(12) for u in gen_nats_conf.users()}
    env = {**os.environ, **{gen_nats_conf.password_variable(u): p for u, p in passwords.items()}}
    port = free_port()
    argv = [nats_server_binary(), "-c", str(tmp_path / "nats.conf"), "-js", "-sd", str(tmp_path / "js"),
            "-a", "127.0.0.1", "-p", str(port), "-l", str(tmp_path / "nats.log")]  # fmt: skip
    proc = subprocess.Popen(argv, env=env)
    deadline = time.monotonic() + 10
    while not _ready(tmp_path / "nats.log"):
        assert proc.poll() is None and time.monotonic() < deadline, "nats-server did not start"
        time.sleep(0.05)
    yield f"tls://127.0.0.1:{port}", tmp_path / "ca.crt", passwords
    proc.terminate()
    proc.wait(10)


async def test_a_service_connects_over_tls_as_itself(tls_server: tuple[str, Path, dict[str, str]]) -> None:
    """job-watcher with the CA publishes step.started; nobody and plaintext clients are refused."""
    url, ca, passwords = tls_server
    settings = BusSettings(servers=[url], user="job-watcher", password=passwords["job-watcher"],
                           tls_ca_file=str(ca), connect_timeout=2.0, request_timeout=2.0)  # fmt: skip
    scheduler = await NatsBus.connect(BusSettings(**{**_fields(settings), "user": "scheduler",
                                                     "password": passwords["scheduler"]}))  # fmt: skip
    await scheduler.ensure_streams()
    watcher = await NatsBus.connect(settings)
    started = StepStarted(namespace="a", run="r", uid="u", step="s", at=at(1), job_name="r-s")
    assert await watcher.publish(started) == 1
    await watcher.close()
    await scheduler.close()
    plain = BusSettings(servers=[url.replace("tls://", "nats://")], user="job-watcher",
                        password=passwords["job-watcher"], connect_timeout=1.0,
                        max_reconnect_attempts=0)  # fmt: skip
    with pytest.raises((BusError, TimeoutError)):  # nats-py keeps retrying a TLS mismatch
        await asyncio.wait_for(NatsBus.connect(plain), 5)
    nobody = BusSettings(servers=[url], tls_ca_file=str(ca), connect_timeout=1.0, max_reconnect_attempts=0)
    with pytest.raises(BusError):
        await asyncio.wait_for(NatsBus.connect(nobody), 10)
    gc.collect()  # a refused or timed-out connect that left its socket open warns here, not in a later test


def _ready(log: Path) -> bool:
    return log.exists() and "Server is ready" in log.read_text(errors="replace")


def _fields(settings: BusSettings) -> dict[str, object]:
    return {f: getattr(settings, f) for f in settings.__struct_fields__}
