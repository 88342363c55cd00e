"""Translation of nats-py exceptions into the bus port's own classes (ports.bus_errors).

Past this module no nats-py exception escapes the adapter: transport and timeout failures become
BusUnavailable (transient), API refusals become BusRejected (permanent for that input), and a
missing stream or consumer becomes NotFound so the adapter can recreate it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats.errors
import nats.js.errors

from ports.bus_errors import BusError, BusRejected, BusUnavailable

_TRANSIENT: tuple[type[BaseException], ...] = (
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


@asynccontextmanager
async def translated(what: str) -> AsyncIterator[None]:
    """Run a block of nats-py calls; re-raise its failures as BusError subclasses."""
    try:
        yield
    except BusError:
        raise
    except nats.js.errors.NotFoundError as e:
        raise NotFound(f"{what}: {e}") from e
    except _TRANSIENT as e:
        raise BusUnavailable(f"{what}: {e!r}") from e
    except (nats.js.errors.Error, nats.errors.Error) as e:
        raise BusRejected(f"{what}: {e}") from e
