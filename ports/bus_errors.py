"""The bus port's failures, as the project's own classes: adapters translate their library's
exceptions into these (`raise BusUnavailable(...) from e`), so services never see nats-py types.

BusUnavailable is transient (the server is down or slow: retry, nak with delay, or crash and be
restarted); BusRejected is permanent for that input (a message too large, a stream missing).
"""

from __future__ import annotations


class BusError(Exception):
    """Base of every failure the bus reports."""


class BusUnavailable(BusError):
    """The bus could not be reached or did not answer in time; the same call may succeed later."""


class BusRejected(BusError):
    """The bus refused the request; repeating it unchanged will fail again."""


class BusRefused(BusRejected):
    """The server refused this process's credentials (missing, wrong, or not allowed to connect)."""
