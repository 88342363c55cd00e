"""Pure parts of the NATS bus adapter (no server needed).

Covers: the stream position read from a JetStream ack subject in both formats, and the refusal of
a non-JetStream reply; the replay reader's fields (consumer sequence, pending) from the same;
which stream holds a subject, and the refusal of subjects outside the catalog or spanning both
streams.
"""

from __future__ import annotations

import pytest

from adapters.jetstream.consumer import position
from adapters.jetstream.replay import ack_fields
from adapters.jetstream.streams import stream_of
from ports.bus_errors import BusRejected


def test_position_from_v1_ack_subject() -> None:
    """The 9-token form gives (stream seq, delivered)."""
    assert position("$JS.ACK.C8S_RUNS.svc.2.41.7.1700000000000000000.3") == (41, 2)


def test_position_from_v2_ack_subject() -> None:
    """The domain/account form (12 tokens, or 11 without the random token) gives the same fields."""
    assert position("$JS.ACK._.ACCHASH.C8S_RUNS.svc.3.99.12.1700000000000000000.0.tok") == (99, 3)
    assert position("$JS.ACK._.ACCHASH.C8S_RUNS.svc.3.99.12.1700000000000000000.0") == (99, 3)


def test_position_rejects_plain_inbox() -> None:
    """A reply subject that is not a JetStream ack is refused with a clear error."""
    with pytest.raises(BusRejected, match="not a JetStream delivery"):
        position("_INBOX.abc.def")


def test_ack_fields_in_both_formats() -> None:
    """(delivered, stream seq, consumer seq, pending), whatever the format."""
    assert ack_fields("$JS.ACK.C8S_RUNS.svc.2.41.7.1700000000000000000.3") == (2, 41, 7, 3)
    assert ack_fields("$JS.ACK._.ACCHASH.C8S_RUNS.svc.3.99.12.1700000000000000000.0.tok") == (3, 99, 12, 0)
    with pytest.raises(ValueError, match="not a JetStream delivery"):
        ack_fields("$JS.ACK.C8S_RUNS.svc.2.41")


def test_stream_of_subjects() -> None:
    """Run and webhook subjects (wildcards included) map to their own stream."""
    assert stream_of(["c8s.run.team-a.r1", "c8s.run.*.*"]) == "C8S_RUNS"
    assert stream_of(["c8s.webhook.>"]) == "C8S_WEBHOOKS"


@pytest.mark.parametrize("subjects", [["c8s.run.a.b", "c8s.webhook.github.a.b"], ["other.x"], ["c8s.run."]])
def test_stream_of_refuses_mixed_or_foreign(subjects: list[str]) -> None:
    """A consumer reads one stream: mixed or foreign subjects are refused up front."""
    with pytest.raises(ValueError, match="stream"):
        stream_of(subjects)
