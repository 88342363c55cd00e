"""Translation of nats-py exceptions into the bus port's own classes (ports.bus_errors).

Past this module no nats-py exception escapes the adapter: transport and timeout failures become
BusUnavailable (transient), API refusals become BusRejected (permanent for that input), and a
missing stream or consumer becomes NotFound so the adapter can recreate it, and refused credentials
become BusRefused.
"""

from __future__ import annotations

import nats.errors
import nats.js.errors

from adapters.runtime.errors import translator
from ports.bus_errors import BusError, BusRefused, BusRejected, BusUnavailable

#: nats-py failures that may pass (transport, timeouts, a server briefly away); shared by the
#: bus and KV translations.
TRANSIENT: tuple[type[Exception], ...] = (
    nats.errors.TimeoutError,
    nats.errors.NoRespondersError,
    nats.errors.ConnectionClosedError,
    nats.errors.ConnectionDrainingError,
    nats.errors.ConnectionReconnectingError,
    nats.errors.NoServersError,
    nats.errors.OutboundBufferLimitError,
    nats.errors.StaleConnectionError,
    nats.errors.UnexpectedEOF,
    nats.js.errors.NoStreamResponseError,
    nats.js.errors.ServiceUnavailableError,
    TimeoutError,
    OSError,
)


class NotFound(BusRejected):
    """A stream or consumer the adapter relies on does not exist (yet, or any more)."""


#: What `translate` accepts: every exception nats-py raises for a failed call.
NATS_ERRORS: tuple[type[Exception], ...] = (nats.errors.Error, TimeoutError, OSError)


def translate(e: BaseException, what: str) -> BusError:
    """The bus error for a nats-py exception (raise it `from e`)."""
    if isinstance(e, nats.js.errors.NotFoundError):
        return NotFound(f"{what}: {e}")
    if refused(e):
        return BusRefused(f"{what}: the server refused the credentials ({e})")
    if isinstance(e, TRANSIENT):
        return BusUnavailable(f"{what}: {e!r}")
    return BusRejected(f"{what}: {e}")


def refused(e: BaseException) -> bool:
    """An authorization failure, as nats-py reports it on connect (directly or as the last error)."""
    if isinstance(e, nats.errors.AuthorizationError):
        return True
    return "authorization violation" in str(e).lower()


#: Run a block of nats-py calls; re-raise its failures as BusError subclasses.
translated = translator(BusError, NATS_ERRORS, translate)
