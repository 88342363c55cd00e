"""Translation of nats-py exceptions raised by KV calls into the resource-store errors
(ports.resources), so no nats-py type leaves the KV adapter.

A missing key is NotFound; a failed compare-and-set (wrong last sequence) is Conflict, which the
adapter retries or turns into AlreadyExists; transport failures and timeouts are StoreUnavailable
(retryable); any other refusal is a plain StoreError (permanent for that input).
"""

from __future__ import annotations

import nats.errors
import nats.js.errors

from adapters.jetstream.errors import NATS_ERRORS, TRANSIENT
from adapters.runtime.errors import translator
from ports.resources import Conflict, NotFound, StoreError, StoreUnavailable

#: JetStream error codes for "wrong last sequence" (JSStreamWrongLastSequenceErrF / ...ConstantErr).
_WRONG_LAST_SEQUENCE = frozenset({10071, 10164})


def translate(e: BaseException, what: str) -> StoreError:
    """The store error for a nats-py exception (raise it `from e`)."""
    if isinstance(e, nats.js.errors.NotFoundError):
        return NotFound(what)
    if isinstance(e, nats.js.errors.KeyWrongLastSequenceError) or _is_wrong_last(e):
        return Conflict(f"{what}: changed concurrently")
    if isinstance(e, TRANSIENT):
        return StoreUnavailable(f"{what}: {e!r}")
    return StoreError(f"{what}: {e}")


def _is_wrong_last(e: BaseException) -> bool:
    # nats-py's KV errors skip APIError.__init__, so err_code may be missing.
    return isinstance(e, nats.js.errors.APIError) and getattr(e, "err_code", None) in _WRONG_LAST_SEQUENCE


#: Run a block of nats-py calls; re-raise its failures as StoreError subclasses.
translated = translator(StoreError, NATS_ERRORS, translate)
