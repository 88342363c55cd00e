"""Translation of kubernetes_asyncio/aiohttp failures into the resource-store errors
(ports.resources), so no library type leaves the Kubernetes adapters.

404 is NotFound; 409 is AlreadyExists (reason AlreadyExists) or Conflict (a stale resourceVersion,
which the adapter retries); 400/422 are Invalid carrying the apiserver's own message (schema and
CEL rule messages included); 410 is Expired (a watch position the apiserver no longer has: re-list);
429, 5xx, refused or dropped connections and timeouts are StoreUnavailable (retryable); 403 is
Forbidden (RBAC refused this process's identity: kinds.py turns it into NotOnboarded for a team
namespace's Secret); any other refusal (401, ...) is a plain StoreError.
"""

from __future__ import annotations

import asyncio

import aiohttp
import msgspec
from kubernetes_asyncio.client.exceptions import ApiException

from adapters.runtime.errors import translator
from ports.resources import (
    AlreadyExists,
    Conflict,
    Forbidden,
    Invalid,
    NotFound,
    StoreError,
    StoreUnavailable,
)

#: Every exception a kubernetes_asyncio call can fail with.
KUBE_ERRORS: tuple[type[Exception], ...] = (ApiException, aiohttp.ClientError, asyncio.TimeoutError, OSError)


class Expired(StoreError):
    """A watch's resourceVersion is gone from the apiserver (410): the watcher must re-list."""


class Status(msgspec.Struct, kw_only=True):
    """The apiserver's Status body of a failed request (the part we report)."""

    message: str = ""
    reason: str = ""
    code: int = 0


_status = msgspec.json.Decoder(Status)


def status_of(e: ApiException) -> Status:
    body = e.body if isinstance(e.body, str | bytes) else b""
    try:
        return _status.decode(body) if body else Status(reason=str(e.reason or ""), code=e.status or 0)
    except msgspec.DecodeError:
        return Status(message=str(body)[:500], reason=str(e.reason or ""), code=e.status or 0)


def translate(e: BaseException, what: str) -> StoreError:
    """The store error for a kubernetes_asyncio/aiohttp exception (raise it `from e`)."""
    if not isinstance(e, ApiException):
        return StoreUnavailable(f"{what}: {e!r}")
    return from_status(e.status or 0, status_of(e), what)


def from_status(code: int, status: Status, what: str) -> StoreError:
    """The store error for an HTTP status code and the apiserver's Status body."""
    detail = f"{what}: {status.message or status.reason or code}"
    if code == 404:
        return NotFound(detail)
    if code == 409:
        return AlreadyExists(detail) if status.reason == "AlreadyExists" else Conflict(detail)
    if code in (400, 422):
        return Invalid(detail)
    if code == 410:
        return Expired(detail)
    if code == 403:
        return Forbidden(detail)
    if code == 429 or code >= 500:
        return StoreUnavailable(detail)
    return StoreError(detail)


#: Run a block of kubernetes_asyncio calls; re-raise its failures as StoreError subclasses.
translated = translator(StoreError, KUBE_ERRORS, translate)
