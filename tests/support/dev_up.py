"""`c8s dev up` as a real subprocess for tests: free loopback ports, a temp directory, its output
read line by line in a thread so a test waits for a line with a deadline (never a sleep).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import TracebackType

from adapters.jetstream.server import free_port

PID = re.compile(r"^\s+(\S+)\s+started, pid (\d+)")
RESTARTED = re.compile(r"^(\S+) restarted \(pid (\d+)")


class DevUp:
    def __init__(self, home: Path, *extra: str, env: dict[str, str] | None = None) -> None:
        self.home = home
        self.extra_env = env or {}
        self.nats_port, self.webhook_port, self.dashboard_port = free_port(), free_port(), free_port()
        self.argv = [sys.executable, "-m", "c8s.cli", "dev", "up", "--dir", str(home)]
        self.argv += ["--nats-port", str(self.nats_port), "--webhook-port", str(self.webhook_port)]
        self.argv += ["--dashboard-port", str(self.dashboard_port), *extra]
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> DevUp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("C8S_")} | self.extra_env
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=self.home.parent,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        return self

    def _read(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        with self.proc.stdout:
            for line in self.proc.stdout:
                self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, pattern: str, deadline: float = 60.0) -> re.Match[str]:
        """The first line (from now on) matching `pattern`; fails at the deadline or at exit."""
        end = time.monotonic() + deadline
        regex = re.compile(pattern)
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, end - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"no line matching {pattern!r} within {deadline}s:\n" + self.output
                ) from None
            if line is None:
                raise AssertionError(f"c8s dev up exited before {pattern!r}:\n" + self.output)
            self.lines.append(line)
            found = regex.search(line)
            if found:
                return found

    def drain(self) -> None:
        """Take every line printed so far into `lines` (for `pids`), without waiting."""
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._queue.put(None)  # keep the end marker for wait_for / wait_exit
                return
            self.lines.append(line)

    def cli_env(self) -> dict[str, str]:
        """The CLI's variables dev up generated (DIR/nats/cli.env: the banner's export lines)."""
        path = self.home / "nats" / "cli.env"
        lines = path.read_text().splitlines() if path.exists() else []
        pairs = (line.removeprefix("export ").partition("=") for line in lines)
        return {name: value for name, _, value in pairs}

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def pids(self) -> dict[str, int]:
        """Every child pid printed so far, restarts included (name -> latest pid)."""
        found: dict[str, int] = {}
        for line in self.lines:
            match = PID.match(line) or RESTARTED.match(line)
            if match:
                found[match.group(1)] = int(match.group(2))
        return found

    def all_pids(self) -> set[int]:
        return {int(m.group(2)) for line in self.lines if (m := PID.match(line) or RESTARTED.match(line))}

    def stop(self, deadline: float = 60.0) -> int:
        """SIGTERM, then the exit code; the rest of the output is read into `lines`."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.wait_exit(deadline)

    def wait_exit(self, deadline: float = 60.0) -> int:
        """The exit code, once the process ended on its own; the rest of its output in `lines`."""
        assert self.proc is not None
        code = self.proc.wait(deadline)
        while (line := self._queue.get(timeout=deadline)) is not None:
            self.lines.append(line)
        self._reader.join(deadline)
        return code

    def __enter__(self) -> DevUp:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
            self._reader.join(10)
        for pid in self.all_pids():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def alive(pid: int) -> bool:
    """Whether a process runs (a zombie does not count: it only waits to be reaped)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
