"""The metrics registry and c8s's instruments, without sockets.

Covers: the Prometheus text format of counters, gauges and histograms (HELP/TYPE lines, label
escaping, cumulative buckets, _sum/_count, +Inf); label-name checking; counters refusing to go
down; one family per name; the instruments' mapping of handled and published events (webhook
deliveries by provider and HTTP status, log bytes, lag never negative, undecodable messages).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.runtime.instruments import Instruments
from adapters.runtime.metrics import Registry
from events.run import LogShipped
from events.webhook import WebhookAccepted, WebhookRejected

AT = datetime(2025, 10, 12, 10, 30, tzinfo=UTC)


def test_counter_renders_help_type_and_labelled_samples() -> None:
    """A counter renders its HELP and TYPE lines and one sample per label set, sorted."""
    registry = Registry()
    handled = registry.counter("c8s_x_total", "Things handled", ("consumer",))
    handled.inc(consumer="b")
    handled.inc(2, consumer="a")
    assert registry.render() == (
        "# HELP c8s_x_total Things handled\n"
        "# TYPE c8s_x_total counter\n"
        'c8s_x_total{consumer="a"} 2\n'
        'c8s_x_total{consumer="b"} 1\n'
    )


def test_label_values_are_escaped() -> None:
    """Backslashes, quotes and newlines in label values are escaped as the format requires."""
    registry = Registry()
    registry.gauge("g", "a gauge", ("v",)).set(1.5, v='a"b\\c\nd')
    assert 'g{v="a\\"b\\\\c\\nd"} 1.5' in registry.render()


def test_histogram_buckets_are_cumulative_with_sum_and_count() -> None:
    """Histogram buckets count every observation at or below their bound, +Inf counts all."""
    registry = Registry()
    latency = registry.histogram("h_seconds", "latency", ("c",))
    latency.buckets = (0.1, 1.0)
    for value in (0.05, 0.5, 5.0):
        latency.observe(value, c="x")
    text = registry.render()
    assert 'h_seconds_bucket{c="x",le="0.1"} 1' in text
    assert 'h_seconds_bucket{c="x",le="1"} 2' in text
    assert 'h_seconds_bucket{c="x",le="+Inf"} 3' in text
    assert 'h_seconds_sum{c="x"} 5.55' in text
    assert 'h_seconds_count{c="x"} 3' in text


def test_wrong_labels_and_negative_increments_are_refused() -> None:
    """Missing or extra labels and a negative counter increment raise ValueError."""
    counter = Registry().counter("c_total", "c", ("a",))
    with pytest.raises(ValueError, match="takes labels"):
        counter.inc(b="x")
    with pytest.raises(ValueError, match="cannot go down"):
        counter.inc(-1, a="x")


def test_a_name_is_one_family() -> None:
    """Asking twice for a name returns the same family; another type under that name is refused."""
    registry = Registry()
    assert registry.counter("n_total", "n") is registry.counter("n_total", "n")
    with pytest.raises(ValueError, match="already registered"):
        registry.gauge("n_total", "n")


def test_published_webhook_decisions_count_by_provider_and_outcome() -> None:
    """Accepted deliveries count as accepted, rejected ones by HTTP status, not by free-text reason."""
    instruments = Instruments(Registry())
    instruments.published(
        WebhookAccepted(at=AT, provider="github", delivery="d1", event="push", namespace="team-a",
                        connection="c", repository="r")
    )
    instruments.published(
        WebhookRejected(at=AT, provider="github", delivery="d2", status=401, reason="bad signature")
    )
    deliveries = instruments.webhook_deliveries
    assert deliveries.value(provider="github", outcome="accepted") == 1
    assert deliveries.value(provider="github", outcome="rejected-401") == 1


def test_published_log_shipped_adds_its_bytes() -> None:
    """Each LogShipped adds its byte count to the shipped-bytes counter."""
    instruments = Instruments(Registry())
    for size in (100, 23):
        instruments.published(
            LogShipped(at=AT, namespace="n", run="r", uid="u", step="s", url="s3://b/k", bytes=size)
        )
    assert instruments.log_bytes.value() == 123


def test_handled_counts_outcome_latency_and_lag() -> None:
    """A handled event counts by consumer, type and outcome, observes latency and sets the lag."""
    instruments = Instruments(Registry())
    old = LogShipped(at=datetime.now(UTC) - timedelta(seconds=60), namespace="n", run="r", uid="u",
                     step="s", url="file:///x")
    instruments.handled("projector-runs", old, "ack", 0.02)
    instruments.handled("projector-runs", None, "term", 0.0)
    counted = instruments.events_handled
    assert counted.value(consumer="projector-runs", type="log.shipped", outcome="ack") == 1
    assert counted.value(consumer="projector-runs", type="undecodable", outcome="term") == 1
    assert instruments.handler_seconds.count(consumer="projector-runs") == 2
    assert 59 < instruments.event_lag.value(consumer="projector-runs") < 120


def test_lag_of_an_event_from_the_future_is_zero() -> None:
    """A producer clock ahead of ours gives a lag of 0, never a negative one."""
    instruments = Instruments(Registry())
    ahead = LogShipped(at=datetime.now(UTC) + timedelta(hours=1), namespace="n", run="r", uid="u",
                       step="s", url="file:///x")
    instruments.handled("c", ahead, "ack", 0.0)
    assert instruments.event_lag.value(consumer="c") == 0
