"""Property tests of secret masking (steps/masking.py).

Covers, for any secrets (bytes or UTF-8 text), any text embedding them in any of their common forms
(raw, base64 blobs, percent-encoded, JSON-escaped in its variants, hex in both cases) and any
chunking: no secret survives as is, in any of those forms, or decodable from base64 anywhere in
the output; the
output does not depend on the chunking; the hold-back bound; text without any secret passes
through unchanged. Secrets never contain `*`, the mask's own byte (else `***` next to text could
spell one by chance, which is no leak).
"""

from __future__ import annotations

import base64
import itertools
import json
from urllib.parse import quote, quote_plus

from hypothesis import assume, given
from hypothesis import strategies as st

from steps.masking import Masker, patterns
from tests.support.base64_oracle import revealed


def no_star(value: bytes) -> bytes:
    return value.replace(b"*", b"+")


def secrets(min_size: int) -> st.SearchStrategy[list[bytes]]:
    as_bytes = st.binary(min_size=min_size, max_size=24)
    as_text = st.text(min_size=min_size, max_size=16).map(str.encode).filter(lambda b: len(b) >= min_size)
    return st.lists(st.one_of(as_bytes, as_text).map(no_star), min_size=1, max_size=4)


filler = st.binary(max_size=40)
FORMS = ("raw", "b64", "b64url", "quote", "quote_plus", "json", "json_ascii", "json_slash", "hex", "HEX")


def json_forms(secret: bytes) -> list[bytes]:
    """The secret inside a JSON string: UTF-8 kept, \\u-escaped, and `/` escaped (text only)."""
    try:
        text = secret.decode()
    except UnicodeDecodeError:
        return []
    kept, ascii_only = json.dumps(text, ensure_ascii=False)[1:-1], json.dumps(text)[1:-1]
    return [kept.encode(), ascii_only.encode(), ascii_only.replace("/", "\\/").encode()]


def encoded_forms(secret: bytes) -> list[bytes]:
    """Every form the masker promises to hide, besides base64 inside a longer blob."""
    percent = [quote(secret, safe="").encode(), quote_plus(secret).encode()]
    return [secret, *percent, *json_forms(secret), secret.hex().encode(), secret.hex().upper().encode()]


@st.composite
def form_of(draw: st.DrawFn, secret: bytes) -> bytes:
    """The secret as a step might print it: raw, percent-encoded, or inside a base64 blob."""
    form = draw(st.sampled_from(FORMS))
    if form.startswith("json") and json_forms(secret):
        return json_forms(secret)[("json", "json_ascii", "json_slash").index(form)]
    if form in ("hex", "HEX") or form.startswith("json"):
        return secret.hex().upper().encode() if form == "HEX" else secret.hex().encode()
    if form == "quote":
        return quote(secret, safe="").encode()
    if form == "quote_plus":
        return quote_plus(secret).encode()
    if form == "raw":
        return secret
    blob = draw(filler) + secret + draw(filler)
    return base64.b64encode(blob) if form == "b64" else base64.urlsafe_b64encode(blob)


@st.composite
def log_with(draw: st.DrawFn, values: list[bytes]) -> bytes:
    """Filler interleaved with the secrets in random forms, each secret at least once."""
    parts = [draw(filler)]
    for secret in draw(st.permutations(values)) + draw(st.lists(st.sampled_from(values), max_size=3)):
        parts += [draw(form_of(secret)), draw(filler)]
    return b"".join(parts)


def chunked(text: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *sorted({c % (len(text) + 1) for c in cuts}), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def run(values: list[bytes], chunks: list[bytes]) -> bytes:
    m = Masker(values)
    return b"".join(m.feed(c) for c in chunks) + m.flush()


cuts = st.lists(st.integers(min_value=0, max_value=10_000), max_size=12)


@given(st.data(), secrets(min_size=3), cuts)
def test_no_value_or_percent_encoding_survives(
    data: st.DataObject, values: list[bytes], cut: list[int]
) -> None:
    """Neither a secret nor its percent-encodings appear in the output, whatever the chunking."""
    out = run(values, chunked(data.draw(log_with(values)), cut))
    for secret in values:
        assert secret not in out
        assert quote(secret, safe="").encode() not in out
        assert quote_plus(secret).encode() not in out


@given(st.data(), secrets(min_size=3), cuts)
def test_no_encoded_form_survives(data: st.DataObject, values: list[bytes], cut: list[int]) -> None:
    """No secret appears raw, percent-encoded, JSON-escaped or in hex, whatever the chunking."""
    out = run(values, chunked(data.draw(log_with(values)), cut))
    for secret in values:
        for form in encoded_forms(secret):
            assert form not in out


@given(st.data(), secrets(min_size=5), cuts)
def test_no_secret_decodable_from_output(data: st.DataObject, values: list[bytes], cut: list[int]) -> None:
    """No secret can be recovered by base64-decoding any part of the output at any alignment.

    Secrets of 5+ bytes here: decoding unrelated text at a wrong alignment yields noise, and a
    3-byte secret may turn up in noise by chance (the unit tests pin 3-byte cases exactly)."""
    text = data.draw(log_with(values))
    out = run(values, chunked(text, cut))
    for secret in values:
        assert not revealed(secret, out)


@given(st.data(), secrets(min_size=3), cuts)
def test_output_does_not_depend_on_chunking(data: st.DataObject, values: list[bytes], cut: list[int]) -> None:
    """Any chunking of the same bytes yields exactly the output of one whole chunk."""
    text = data.draw(log_with(values))
    assert run(values, chunked(text, cut)) == run(values, [text])


@given(secrets(min_size=3), st.lists(st.binary(max_size=64), max_size=20))
def test_hold_back_is_bounded(values: list[bytes], chunks: list[bytes]) -> None:
    """After any feed the masker holds at most (longest pattern - 1) bytes."""
    m = Masker(values)
    bound = max(len(p) for p in patterns(values)) - 1
    for chunk in chunks:
        m.feed(chunk)
        assert m.held <= bound


@given(secrets(min_size=3), st.binary(max_size=400), cuts)
def test_text_without_secrets_is_unchanged(values: list[bytes], text: bytes, cut: list[int]) -> None:
    """Text in which no secret nor encoding occurs passes through byte for byte."""
    assume(not any(p in text for p in patterns(values)))
    assert run(values, chunked(text, cut)) == text
