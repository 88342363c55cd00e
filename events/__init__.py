"""The event catalog: every fact about a run or a webhook delivery, as a typed, versioned Struct.

This package is the contract between the processes. It is pure: no I/O library is imported here
(import-linter enforces it); the NATS adapter lives in adapters/.
"""
