"""The HTTP port for calls to outside APIs (git providers' REST APIs, chat webhooks).

Requests are plain data built by pure code (method, URL, headers, a JSON body), so what is sent
can be checked without a socket. Contract of a client:
- transport failures, 5xx and 429 (and a 403 that says it is a rate limit) are retried inside
  `send`, waiting as the answer's Retry-After says, else with exponential backoff;
- any other answer is returned as it is, whatever its status (4xx are the caller's to judge);
- when retries run out, or the server asks to wait longer than the client's patience,
  `send` raises ApiUnavailable carrying how long to wait before trying again.
"""

from __future__ import annotations

from typing import Literal, Protocol

from msgspec import Struct, field

Method = Literal["GET", "POST"]


class RetryPolicy(Struct, frozen=True, kw_only=True):
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    timeout: float = 10.0


class HttpRequest(Struct, frozen=True, kw_only=True):
    method: Method
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    #: Sent as JSON (Content-Type: application/json) when not None.
    json: dict[str, object] | None = None
    #: False: one attempt only, a retryable failure raises ApiUnavailable at once, so the caller
    #: can check the request is still wanted before trying again (a stale commit status is not).
    retry: bool = True


class HttpResponse(Struct, frozen=True, kw_only=True):
    status: int
    content: bytes = b""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class ApiUnavailable(Exception):
    """The API could not be reached or kept failing; the same request may succeed later."""

    def __init__(self, reason: str, retry_after: float) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class HttpClient(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse:
        """The final answer to the request (retrying transient failures), or ApiUnavailable."""
        ...

    async def close(self) -> None: ...
