"""Property tests of the masker's idle release (steps.masking.Masker.release).

Covers, for any secrets, any text embedding them in any of their common forms, any chunking and
any release timing (zero or more releases after any chunk, as a quiet stream would trigger them):
the output is exactly the output of one whole chunk (so releasing never changes what is masked);
no secret appears raw, percent-encoded, JSON-escaped or in hex, nor decodable from base64, in the
concatenated output; after a release, what stays held is a prefix of a pattern (a possible secret's
start) or nothing. Examples: a quiet last line is released, a held secret start is not.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from steps.masking import Masker, patterns
from tests.property.test_masking import chunked, cuts, encoded_forms, log_with, secrets
from tests.support.base64_oracle import revealed

SECRET = b"s3cr3t-T0ken/42"


def released(values: list[bytes], chunks: list[bytes], releases: list[int]) -> list[bytes]:
    """Every piece the masker emits, with `releases[i]` releases after chunk i."""
    m = Masker(values)
    pieces: list[bytes] = []
    for i, chunk in enumerate(chunks):
        pieces.append(m.feed(chunk))
        pieces += [m.release() for _ in range(releases[i] if i < len(releases) else 0)]
    return [*pieces, m.flush()]


def whole(values: list[bytes], text: bytes) -> bytes:
    m = Masker(values)
    return m.feed(text) + m.flush()


timings = st.lists(st.integers(min_value=0, max_value=2), max_size=14)


@given(st.data(), secrets(min_size=3), cuts, timings)
def test_output_does_not_depend_on_release_timing(
    data: st.DataObject, values: list[bytes], cut: list[int], releases: list[int]
) -> None:
    """Any chunking and any releases yield exactly the output of one whole chunk."""
    text = data.draw(log_with(values))
    assert b"".join(released(values, chunked(text, cut), releases)) == whole(values, text)


@given(st.data(), secrets(min_size=5), cuts, timings)
def test_no_secret_survives_any_release_timing(
    data: st.DataObject, values: list[bytes], cut: list[int], releases: list[int]
) -> None:
    """No form of a secret is in the concatenated output, whenever the stream went quiet."""
    pieces = released(values, chunked(data.draw(log_with(values)), cut), releases)
    out = b"".join(pieces)
    for secret in values:
        assert not revealed(secret, out)
        for form in encoded_forms(secret):
            assert form not in out


@given(secrets(min_size=3), st.binary(max_size=80), st.integers(min_value=0, max_value=3))
def test_only_a_possible_secret_start_stays_held(values: list[bytes], text: bytes, prefix: int) -> None:
    """After a release, the held bytes are nothing or a prefix of some pattern."""
    m = Masker(values)
    fed = text + values[0][:prefix]
    m.feed(fed)
    m.release()
    held = fed[len(fed) - m.held :] if m.held else b""
    assert not held or any(p.startswith(held) for p in patterns(values))


def test_a_quiet_last_line_is_released() -> None:
    """A line that feed holds back (shorter than the longest pattern) comes out on release."""
    m = Masker([SECRET])
    assert m.feed(b"building...\n") == b""
    assert m.release() == b"building...\n"
    assert m.held == 0


def test_a_held_secret_start_is_not_released() -> None:
    """The start of a secret stays held on release; once completed it is masked whole."""
    m = Masker([SECRET])
    out = m.feed(b"token: " + SECRET[:6]) + m.release()
    assert out == b"token: "
    assert m.feed(SECRET[6:] + b"\n") + m.release() + m.flush() == b"***\n"
