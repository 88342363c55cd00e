"""Examples of secret masking (steps/masking.py).

Covers: a value masked whole and when split at every byte; adjacent and overlapping secrets become
one `***`; base64 (standard and URL-safe) of the value alone and inside a longer blob at each
alignment; percent-encoded forms; JSON-escaped forms (the issue's `p"w\\d-…`, \\u escapes, `\\/`)
and hex in both cases; each line of a multi-line value; short values ignored; invalid
UTF-8 passes through; the hold-back bound; the no-secret fast path. (Live-line batching:
tests/unit/test_live_batches.py.)
"""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest

from steps.masking import MIN_SECRET_LENGTH, Masker, patterns
from tests.support.base64_oracle import revealed

SECRET = b"s3cr3t-T0ken/42"


def mask(secrets: list[bytes], *chunks: bytes) -> bytes:
    m = Masker(secrets)
    return b"".join(m.feed(c) for c in chunks) + m.flush()


def test_value_is_masked() -> None:
    """Every occurrence of the value becomes `***`, the rest is unchanged."""
    assert mask([SECRET], b"token=" + SECRET + b" again " + SECRET + b"\n") == b"token=*** again ***\n"


@pytest.mark.parametrize("cut", range(1, 20))
def test_value_split_across_chunks_is_masked(cut: int) -> None:
    """A value cut in two by a chunk boundary is still masked."""
    text = b"key: " + SECRET + b" end"
    assert mask([SECRET], text[:cut], text[cut:]) == b"key: *** end"


def test_one_byte_chunks() -> None:
    """Feeding one byte at a time gives the same output as one chunk."""
    text = b"a " + SECRET + SECRET + b" b"
    assert mask([SECRET], *(text[i : i + 1] for i in range(len(text)))) == b"a *** b"


def test_adjacent_and_overlapping_secrets_become_one_mask() -> None:
    """Touching or overlapping occurrences of different secrets are one masked run."""
    assert mask([b"abcdef", b"defghi"], b"x abcdefghi y") == b"x *** y"
    assert mask([b"abcdef", b"ghijkl"], b"x abcdefghijkl y") == b"x *** y"


def test_longer_secret_containing_a_shorter_one_is_masked_whole() -> None:
    """A secret that contains another is masked entirely, not just the inner part."""
    assert mask([b"inner", b"the-inner-secret"], b"[the-inner-secret]") == b"[***]"


@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_base64_of_value_is_masked(encode: object) -> None:
    """The padded base64 of the value, as `base64` prints it, is masked whole."""
    assert callable(encode)
    assert mask([SECRET], b"auth " + encode(SECRET) + b"\n") == b"auth ***\n"


@pytest.mark.parametrize("prefix", [b"", b"u", b"us", b"user:"])
@pytest.mark.parametrize("encode", [base64.b64encode, base64.urlsafe_b64encode])
def test_value_inside_longer_base64_blob_cannot_be_decoded(prefix: bytes, encode: object) -> None:
    """Inside a longer encoded blob, at any alignment, decoding what is left never yields the value."""
    assert callable(encode)
    blob = encode(prefix + SECRET + b"@example")
    out = mask([SECRET], b"Authorization: Basic " + blob)
    assert b"***" in out
    assert not revealed(SECRET, out)
    assert revealed(SECRET, blob)


@pytest.mark.parametrize("form", [quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET)])
def test_percent_encoded_value_is_masked(form: str) -> None:
    """URL-encoded forms of the value are masked, upper and lower case hex."""
    assert mask([SECRET], b"GET /?t=" + form.encode() + b" 200") == b"GET /?t=*** 200"


def test_lower_case_percent_encoding_is_masked() -> None:
    """`%2f` is masked like `%2F`."""
    assert mask([SECRET], b"t=s3cr3t-T0ken%2f42") == b"t=***"


@pytest.mark.parametrize(
    "printed",
    [
        b'{"password": "p\\"w\\\\d-\xc3\xa9/x"}',
        b'{"password": "p\\"w\\\\d-\\u00e9/x"}',
        b'{"password": "p\\"w\\\\d-\\u00E9/x"}',
        b'{"password": "p\\"w\\\\d-\\u00e9\\/x"}',
    ],
)
def test_json_escaped_value_is_masked(printed: bytes) -> None:
    """A value printed inside a JSON string (quotes and backslashes escaped) is masked."""
    value = 'p"w\\d-\u00e9/x'.encode()
    assert mask([value], printed) == b'{"password": "***"}'


def test_hex_of_value_is_masked_in_both_cases() -> None:
    """`xxd -p` style hex of the value, lower or upper case, is masked."""
    dump = b"dump " + SECRET.hex().encode() + b" " + SECRET.hex().upper().encode()
    assert mask([SECRET], dump) == b"dump *** ***"


def test_each_line_of_a_multiline_value_is_masked() -> None:
    """A key file printed line by line is masked line by line."""
    key = b"-----BEGIN KEY-----\nMIIEabcdef\n-----END KEY-----\n"
    assert mask([key], b"> MIIEabcdef\n") == b"> ***\n"


def test_short_values_are_not_masked() -> None:
    """Values below MIN_SECRET_LENGTH are ignored (they would mask half the log)."""
    short = b"x" * (MIN_SECRET_LENGTH - 1)
    assert patterns([short, b""]) == ()
    assert mask([short], b"xx marks the spot") == b"xx marks the spot"


def test_invalid_utf8_passes_through_and_is_masked() -> None:
    """Bytes that are not UTF-8 around a secret neither break masking nor get altered."""
    assert mask([b"\xff\xfesecret"], b"\x80\x81 \xff\xfesecret \xc3") == b"\x80\x81 *** \xc3"


def test_hold_back_is_bounded_by_longest_pattern() -> None:
    """The masker never holds back more than the longest pattern minus one byte."""
    m = Masker([SECRET])
    longest = max(len(p) for p in patterns([SECRET]))
    for _ in range(100):
        m.feed(b"abcdefg")
        assert m.held <= longest - 1
    assert m.held == longest - 1


def test_no_secrets_passes_chunks_through() -> None:
    """Without secrets every chunk is emitted as is, nothing held."""
    m = Masker([])
    assert m.feed(b"abc") == b"abc"
    assert m.held == 0
    assert m.flush() == b""


def test_masker_is_reusable_after_flush() -> None:
    """After flush the masker starts a new stream with no state left."""
    m = Masker([SECRET])
    assert m.feed(SECRET[:5]) + m.flush() == SECRET[:5]
    assert m.feed(SECRET[5:]) + m.flush() == SECRET[5:]
