"""`c8s dev up` as a real subprocess in a temp directory, on free loopback ports.

Covers: it prints each child's pid, waits for nats-server and the webhook, then the URLs and
"c8s is up"; the webhook's /readyz answers 200 and nats accepts connections; a child killed with
SIGKILL is reported and restarted; SIGTERM stops every child (checked by pid: no process left),
nats-server last, and exits 0; a port already in use is one clear line and exit 1.
"""

from __future__ import annotations

import os
import signal
import socket
import urllib.request
from pathlib import Path

from adapters.jetstream.server import free_port
from tests.support.dev_up import DevUp, alive


def test_dev_up_serves_restarts_and_stops_every_child(tmp_path: Path) -> None:
    """dev up comes up, restarts a killed service, and leaves no process behind on SIGTERM."""
    with DevUp(tmp_path / "c8s") as dev:
        dev.wait_for(r"^c8s is up$", deadline=90)
        webhook = dev.wait_for(r"webhook URL: (http://127\.0\.0\.1:\d+)/webhooks/").group(1)
        dashboard = dev.wait_for(r"dashboard:\s+(http://127\.0\.0\.1:\d+)/runs$").group(1)
        nats = dev.wait_for(r"NATS URL:\s+(nats://127\.0\.0\.1:\d+)$").group(1)
        assert dashboard == f"http://127.0.0.1:{dev.dashboard_port}"
        with urllib.request.urlopen(f"{dashboard}/runs", timeout=5) as resp:
            assert resp.status == 200 and b"<h1>Runs</h1>" in resp.read()
        assert (webhook, nats) == (
            f"http://127.0.0.1:{dev.webhook_port}",
            f"nats://127.0.0.1:{dev.nats_port}",
        )
        with urllib.request.urlopen(f"{webhook}/readyz", timeout=5) as resp:
            assert resp.status == 200
        socket.create_connection(("127.0.0.1", dev.nats_port), timeout=5).close()
        pids = dev.pids()
        assert {"nats-server", "scheduler", "projector", "runner", "webhook", "dashboard"} <= set(pids)
        assert all(alive(pid) for pid in pids.values())
        assert (tmp_path / "c8s" / "logs" / "projector.log").is_file()

        os.kill(pids["projector"], signal.SIGKILL)
        dev.wait_for(r"^projector exited with code 137 .*restarting in 1s$")
        restarted = int(dev.wait_for(r"^projector restarted \(pid (\d+)").group(1))
        assert restarted != pids["projector"] and alive(restarted)

        assert dev.stop() == 0
        assert dev.lines[-1] == "c8s stopped"
        left = sorted(pid for pid in dev.all_pids() if alive(pid))
        assert left == [], f"processes left behind: {left}"


def test_port_in_use_is_one_clear_line(tmp_path: Path) -> None:
    """A NATS port already taken fails fast with one line naming the port and the option."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", free_port()))
        taken.listen()
        port = taken.getsockname()[1]
        dev = DevUp(tmp_path / "c8s")
        dev.argv[dev.argv.index("--nats-port") + 1] = str(port)
        with dev:
            assert dev.wait_exit() == 1
        in_use = f"port {port} on 127.0.0.1 is already in use (another c8s dev up?)"
        assert dev.lines == [f"c8s: error: {in_use}: choose another with --nats-port"]
