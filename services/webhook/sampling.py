"""Which rejections of unverified requests are published (pure: the time is an argument).

Anyone can send a request the receiver must refuse (401, 404, 400 before the signature, 413), and
each refusal was one WebhookRejected on the stream: a flood of them filled C8S_WEBHOOKS. Each is
now published only while two token buckets allow it: one per source address (`rate` per second,
bursts of `burst`) and one for all sources together (`total_rate`, `total_burst`), so one noisy
sender cannot silence the others and many senders together still cannot fill the stream. The rest
are counted (`suppressed`, and `on_suppressed` feeds the process's metrics), never published.
Decisions about verified deliveries are not sampled: they come from someone holding the secret.
The table of sources is bounded: past `max_sources` the least recently seen is forgotten.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class TokenBuckets:
    """Token buckets by key, each `rate` tokens per second up to `burst`."""

    def __init__(self, rate: float, burst: float, max_keys: int) -> None:
        self.rate, self.burst, self.max_keys = rate, burst, max_keys
        self._buckets: dict[str, _Bucket] = {}

    def take(self, key: str, now: float) -> bool:
        """Take one token from `key`'s bucket; False when it is empty."""
        bucket = self._buckets.pop(key, None) or _Bucket(self.burst, now)
        self._buckets[key] = bucket  # most recently seen last
        if len(self._buckets) > self.max_keys:
            del self._buckets[next(iter(self._buckets))]
        bucket.tokens = min(self.burst, bucket.tokens + max(0.0, now - bucket.at) * self.rate)
        bucket.at = now
        if bucket.tokens < 1:
            return False
        bucket.tokens -= 1
        return True


class RejectionSampler:
    def __init__(
        self,
        rate: float = 1.0,
        burst: float = 20,
        total_rate: float = 20.0,
        total_burst: float = 200,
        max_sources: int = 4096,
        on_suppressed: Callable[[str], None] = lambda provider: None,
    ) -> None:
        self._sources = TokenBuckets(rate, burst, max_sources)
        self._total = TokenBuckets(total_rate, total_burst, 1)
        self._on_suppressed = on_suppressed
        self.suppressed = 0

    def allow(self, provider: str, source: str, now: float) -> bool:
        """Whether this rejection is published; counts it as suppressed when not."""
        if self._sources.take(source, now) and self._total.take("", now):
            return True
        self.suppressed += 1
        self._on_suppressed(provider)
        return False
