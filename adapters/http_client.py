"""The HTTP port over aiohttp: one session per process, retries with backoff, Retry-After honoured.

A 5xx, a 429, a 403 marked as a rate limit (Retry-After present or `x-ratelimit-remaining: 0`, as
GitHub sends for its secondary limits) and a transport failure are retried up to `policy.attempts`
times (a request with `retry=False` is tried once). The wait is the answer's Retry-After
(delta-seconds or an HTTP date) when it gives one, else `base_delay * 2**attempt` capped at `max_delay`. A
server asking to wait longer than `max_delay` is not waited for here: ApiUnavailable carries its
delay to the caller, who naks the message for that long instead of holding it. Other answers are
returned as they are.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import aiohttp
import msgspec
from msgspec import Struct

from ports.http import ApiUnavailable, HttpRequest, HttpResponse, RetryPolicy

Sleep = Callable[[float], Awaitable[None]]
_TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class AiohttpClient:
    """HttpClient adapter; `sleep` is injectable so tests can see the waits without taking them."""

    def __init__(self, policy: RetryPolicy, *, user_agent: str = "c8s", sleep: Sleep = asyncio.sleep) -> None:
        self._policy, self._user_agent, self._sleep = policy, user_agent, sleep
        self._session: aiohttp.ClientSession | None = None

    async def send(self, request: HttpRequest) -> HttpResponse:
        last = "no attempt"
        attempts = self._policy.attempts if request.retry else 1
        for attempt in range(attempts):
            answer = await self._once(request)
            delay = self._delay(answer, attempt)
            if delay is None:
                assert isinstance(answer, HttpResponse)
                return answer
            last = _describe(answer)
            if delay > self._policy.max_delay or attempt == attempts - 1:
                raise ApiUnavailable(f"{request.method} {request.url}: {last}", retry_after=delay)
            await self._sleep(delay)
        raise ApiUnavailable(f"{request.method} {request.url}: {last}", retry_after=self._policy.max_delay)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _once(self, request: HttpRequest) -> HttpResponse | _Failed:
        headers = {"User-Agent": self._user_agent, **request.headers}
        data = None
        if request.json is not None:
            headers["Content-Type"] = "application/json"
            data = msgspec.json.encode(request.json)
        try:
            async with self._open().request(request.method, request.url, headers=headers, data=data) as r:
                content = await r.read()
                return _classify(r.status, r.headers, content)
        except _TRANSPORT_ERRORS as e:
            return _Failed(status=0, reason=repr(e), retry_after=None)

    def _delay(self, answer: HttpResponse | _Failed, attempt: int) -> float | None:
        if isinstance(answer, HttpResponse):
            return None
        if answer.retry_after is not None:
            return answer.retry_after
        return min(self._policy.max_delay, self._policy.base_delay * 2.0**attempt)

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = aiohttp.ClientTimeout(total=self._policy.timeout)
            self._session = aiohttp.ClientSession(timeout=timeout)
        return self._session


class _Failed(Struct, frozen=True, kw_only=True):
    """A retryable answer: its status (0 for a transport failure) and the server's wish, if any."""

    status: int
    reason: str
    retry_after: float | None


def _classify(status: int, headers: Mapping[str, str], content: bytes) -> HttpResponse | _Failed:
    retry_after = retry_after_seconds(headers.get("Retry-After"), datetime.now(UTC))
    rate_limited = status == 403 and (retry_after is not None or headers.get("x-ratelimit-remaining") == "0")
    if status >= 500 or status == 429 or rate_limited:
        reason = f"HTTP {status}: {content[:200].decode('utf-8', 'replace')}"
        return _Failed(status=status, reason=reason, retry_after=retry_after)
    return HttpResponse(status=status, content=content)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or an HTTP date), None if absent
    or unreadable; a date in the past means no wait."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _describe(answer: HttpResponse | _Failed) -> str:
    return answer.reason if isinstance(answer, _Failed) else f"HTTP {answer.status}"
