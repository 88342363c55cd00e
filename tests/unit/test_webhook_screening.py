"""The webhook's pure guards (services/webhook/screening.py, sampling.py, bodies.Budget).

Covers: a RecursionError while parsing becomes a 400; a branch, tag or target branch that is no
git ref name is a 400 naming the field, a valid one passes; replay keys differ per connection and
per body; a recorded replay key refuses another delivery id but not the same one (a retry); the
token buckets allow a burst, refill with time, keep sources apart, cap all sources together and
forget the least recently seen source past the table size; suppressed rejections are counted
and reach the process's metric; the in-flight budget never reserves past its total.
"""

from __future__ import annotations

import sys

import pytest

from adapters.runtime.instruments import INSTRUMENTS
from adapters.runtime.settings import from_env
from services.webhook.bodies import Budget
from services.webhook.config import WebhookSettings
from services.webhook.providers import Delivery, Refusal
from services.webhook.sampling import RejectionSampler, TokenBuckets
from services.webhook.screening import NESTED, guarded, ref_refusal, replay_key, replay_refusal
from services.webhook.service import sampler


def push(branch: str, kind: str = "push", target: str = "") -> Delivery:
    return Delivery(
        provider="github", delivery="d-1", kind=kind, repository_urls=("https://x/y",),  # type: ignore[arg-type]
        commit="a" * 40, branch=branch, target_branch=target,
    )  # fmt: skip


def test_recursion_while_parsing_is_a_400() -> None:
    """A parser hitting the recursion limit answers 400 instead of raising."""

    def deep(n: int) -> int:
        return deep(n + 1)

    assert guarded(deep, 0) == Refusal(status=400, reason=NESTED)
    assert sys.getrecursionlimit() >= 1000


@pytest.mark.parametrize(
    ("delivery", "field"),
    [
        (push("main\x00"), "branch"),
        (push("v1..2", "tag"), "tag"),
        (push("ok", "pull_request", "a b"), "target branch"),
    ],
)
def test_bad_ref_names_are_400_naming_the_field(delivery: Delivery, field: str) -> None:
    """A branch, tag or target branch git would refuse gives a 400 that names which one."""
    refusal = ref_refusal(delivery)
    assert refusal is not None and refusal.status == 400 and refusal.reason.startswith(field + " ")


def test_valid_refs_pass() -> None:
    """Ordinary branch and tag names pass."""
    assert ref_refusal(push("feature/x-1")) is None and ref_refusal(push("v1.2.0", "tag")) is None


def test_replay_keys_are_per_connection_and_body() -> None:
    """The key changes with the connection and with the body digest, and fits a KV key."""
    keys = {replay_key("github", ns, name, digest) for ns in "ab" for name in "cd" for digest in ("e", "f")}
    assert len(keys) == 8 and all(k.startswith("replay.github.") and len(k) < 100 for k in keys)


def test_replay_refused_only_under_another_delivery_id() -> None:
    """A recorded body refuses a new delivery id (200, naming the first) but not a retry of the same id."""
    assert replay_refusal(None, "d-2", "ns/app") is None
    assert replay_refusal(b"d-1", "d-1", "ns/app") is None
    refusal = replay_refusal(b"d-1", "d-2", "ns/app")
    assert refusal is not None and refusal.status == 200 and "'d-1'" in refusal.reason


def test_bucket_burst_then_refill() -> None:
    """A bucket gives its burst at once, then one token per 1/rate seconds."""
    buckets = TokenBuckets(rate=2.0, burst=3, max_keys=10)
    assert [buckets.take("a", 0.0) for _ in range(4)] == [True, True, True, False]
    assert buckets.take("a", 0.5) and not buckets.take("a", 0.5)


def test_sources_apart_and_total_capped() -> None:
    """One source's flood does not use another's tokens, and the total bucket caps them together."""
    sampler = RejectionSampler(rate=0.001, burst=2, total_rate=0.001, total_burst=3)
    allowed = [sampler.allow("github", src, 0.0) for src in ("a", "a", "a", "b", "c")]
    assert allowed == [True, True, False, True, False] and sampler.suppressed == 2


def test_source_table_is_bounded() -> None:
    """Past max_keys the least recently seen source is forgotten (and starts with a full bucket)."""
    buckets = TokenBuckets(rate=0.0, burst=1, max_keys=2)
    assert buckets.take("a", 0) and buckets.take("b", 0) and buckets.take("c", 0)
    assert buckets.take("a", 0)  # forgotten, so full again
    assert not buckets.take("c", 0)


def test_suppressed_reach_the_metric() -> None:
    """The service's sampler counts each suppressed rejection in c8s_webhook_rejections_suppressed_total."""
    settings = from_env(WebhookSettings, {"C8S_REJECTIONS_PER_SOURCE": "0.001"})
    wired = sampler(settings)
    before = INSTRUMENTS.webhook_rejections_suppressed.value(provider="gitlab")
    results = [wired.allow("gitlab", "10.0.0.1", 0.0) for _ in range(25)]
    assert results.count(False) == 5
    assert INSTRUMENTS.webhook_rejections_suppressed.value(provider="gitlab") - before == 5


def test_budget_never_exceeds_its_total() -> None:
    """Reservations past the total are refused and leave the held bytes unchanged."""
    budget = Budget(100)
    assert budget.reserve(60) and not budget.reserve(41) and budget.held == 60
    budget.release(60)
    assert budget.reserve(100) and budget.held == 100
