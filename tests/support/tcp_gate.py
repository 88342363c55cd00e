"""A loopback TCP gate in front of a server, to stop a client mid-conversation on purpose.

While closed, the gate accepts connections and holds them (the client waits for an answer that
does not come: a git clone stuck in its checkout); `release()` forwards the held connections and
every later one to the target, `drop()` closes the held ones (their clients fail) and forwards
later ones. Threads only, so it serves sync and async tests alike.

    with TcpGate(daemon_port) as gate:
        url = f"git://127.0.0.1:{gate.port}/app.git"
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from types import TracebackType


class TcpGate:
    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.target = (host, target_port)
        self._listener = socket.create_server((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._forwarded: list[socket.socket] = []
        self._open = False
        self._lock = threading.Lock()
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def wait_held(self, count: int = 1, deadline: float = 20.0) -> None:
        """Until at least `count` connections are held (polled against a deadline)."""
        end = time.monotonic() + deadline
        while self.held < count:
            if time.monotonic() > end:
                raise AssertionError(f"fewer than {count} connections reached the gate in {deadline}s")
            time.sleep(0.01)

    def release(self) -> None:
        """Forward the held connections and every later one."""
        with self._lock:
            self._open, held, self._held = True, self._held, []
        for conn in held:
            self._forward(conn)

    def drop(self) -> None:
        """Close the held connections; forward every later one."""
        with self._lock:
            self._open, held, self._held = True, self._held, []
        for conn in held:
            conn.close()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self._listener.accept()
                with self._lock:
                    if not self._open:
                        self._held.append(conn)
                        continue
                self._forward(conn)

    def _forward(self, conn: socket.socket) -> None:
        upstream = socket.create_connection(self.target)
        with self._lock:
            self._forwarded += [conn, upstream]
        for source, sink in ((conn, upstream), (upstream, conn)):
            threading.Thread(target=_pump, args=(source, sink), daemon=True).start()

    def __enter__(self) -> TcpGate:
        self._accepting.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self._listener.close()
        self._accepting.join(5)
        self.drop()
        with self._lock:
            forwarded, self._forwarded = self._forwarded, []
        for conn in forwarded:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)  # wakes its pump before the descriptor goes
            conn.close()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)
