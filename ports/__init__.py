"""Ports: the small interfaces through which services reach the outside world.

Each port is a typing.Protocol with real adapters in adapters/ (NATS, Kubernetes, object storage,
local processes) and one contract test suite in tests/ that runs against every adapter. Ports are
pure declarations: no I/O library is imported here.
"""
