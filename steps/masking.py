"""Secret masking of a step's output stream, before anything is stored or published.

Invariant: every byte of the input that lies inside an occurrence of a secret value or of one of
its encodings (a *pattern*) leaves as part of a `***`, whatever the chunk boundaries; every other
byte leaves unchanged and in order. A maximal run of masked bytes (overlapping or touching
occurrences, also across chunks) becomes one `***`, so the output does not depend on chunking.

Patterns of a value (`patterns`):
- the value itself, and each of its lines when it has several (a key file printed line by line);
- standard and URL-safe base64 of the value, padded, and the part of its encoding that is the
  same wherever the value sits inside a longer encoded blob (`echo "user:$TOKEN" | base64`, a
  JSON document encoded whole): at each of the three byte alignments, the characters that depend
  on the value's bytes only (a partial first and last character are left out);
- percent-encoding (`quote` with and without '/' safe, `quote_plus`, upper and lower case hex);
- JSON string escaping (the value inside a JSON document: `p"w\\d` printed as `p\\"w\\\\d`), with
  non-ASCII characters kept or `\\uXXXX`-escaped (lower or upper case hex), `/` kept or escaped as
  `\\/`; only for values that are UTF-8 text (JSON strings are text);
- hex of the value's bytes, lower and upper case (`xxd -p`, `od`, a digest-like dump).

Values shorter than MIN_SECRET_LENGTH are not masked: masking every `a` or `42` would destroy the
log without protecting anything (so short a value is guessable, and its masked positions would
reveal it anyway); the service warns about them.

Streaming (`Masker`): bytes, never str, so invalid UTF-8 cannot break it. A pattern is searched
for in a buffer only when the buffer holds its rarest byte (`rarest_byte`, one memchr). No occurrence that is
still incomplete can start before the last (longest pattern - 1) bytes, so `feed` emits everything
before them and holds back at most that many; the masked prefix of what it holds is remembered.
`release` (called by the shipper when the stream has been quiet a while) emits the held bytes
that no further input can complete into an occurrence: all but the longest held suffix that is a
prefix of a pattern, so a quiet step's last line goes live, and a secret's first bytes never do.
Pure: no I/O, no clock (the caller decides when the stream is quiet).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable
from urllib.parse import quote, quote_plus

MIN_SECRET_LENGTH = 3
MASK = b"***"

Encoder = Callable[[bytes], bytes]
_B64: tuple[Encoder, ...] = (base64.b64encode, base64.urlsafe_b64encode)
_HEX_ESCAPE = re.compile(rb"%[0-9A-F]{2}")
#: Bytes of log text from most to least common (roughly); a byte not listed counts as rare.
_COMMON_ORDER = b" e\nta0oin1srh2lcd:3u-m5p.4f9g67w8y/b_vk=TESARIONLCDPM,kxjqzFBGUHWVY[]()KXJQZ"
_COMMONNESS = {b: len(_COMMON_ORDER) - i for i, b in enumerate(_COMMON_ORDER)}
_UNICODE_ESCAPE = re.compile(r"\\u[0-9a-f]{4}")


def patterns(values: Iterable[bytes]) -> tuple[bytes, ...]:
    """Every byte string to mask for these secret values, longest first, without duplicates."""
    found: set[bytes] = set()
    for value in values:
        for part in {value, *value.splitlines()}:
            if len(part) >= MIN_SECRET_LENGTH:
                found |= encodings(part)
    return tuple(sorted((p for p in found if p), key=lambda p: (-len(p), p)))


def encodings(value: bytes) -> set[bytes]:
    """The value and its base64 and percent-encoded forms."""
    out = {value}
    for encode in _B64:
        out.add(encode(value))
        out.update(embedded_base64(value, encode, offset) for offset in range(3))
    for form in (quote(value, safe=""), quote(value), quote_plus(value)):
        upper = form.encode("ascii")
        out.update((upper, _HEX_ESCAPE.sub(lambda m: m.group().lower(), upper)))
    out.update((value.hex().encode(), value.hex().upper().encode()))
    return out | json_escaped(value)


def json_escaped(value: bytes) -> set[bytes]:
    """The value's forms inside a JSON string, as common encoders write them."""
    try:
        text = value.decode()
    except UnicodeDecodeError:
        return set()
    out: set[bytes] = set()
    for ascii_only in (True, False):
        escaped = json.dumps(text, ensure_ascii=ascii_only)[1:-1]
        for form in (escaped, _UNICODE_ESCAPE.sub(_upper_hex, escaped)):
            out.update((form.encode(), form.replace("/", "\\/").encode()))
    return out


def _upper_hex(escape: re.Match[str]) -> str:
    return "\\u" + escape.group()[2:].upper()


def embedded_base64(value: bytes, encode: Encoder, offset: int) -> bytes:
    """The characters of a longer blob's base64 that depend on `value` alone, when `value` starts
    `offset` bytes (0-2) into a 3-byte group: character i covers bits 6i..6i+5 of the blob."""
    start = -(-8 * offset // 6)
    stop = 8 * (offset + len(value)) // 6
    return encode(bytes(offset) + value)[start:stop]


class Masker:
    """Masks a byte stream: `feed` each chunk and emit what it returns, then emit `flush()`."""

    def __init__(self, secrets: Iterable[bytes]) -> None:
        self._patterns = patterns(secrets)
        self._scans = [(p, rarest_byte(p)) for p in self._patterns]
        self._keep = max((len(p) for p in self._patterns), default=1) - 1
        self._held = b""
        self._held_masked = 0  # length of the held bytes' prefix already known to be masked
        self._ended_masked = False  # the last emitted byte was masked (a run continues)

    @property
    def held(self) -> int:
        """How many input bytes are held back (never more than the longest pattern - 1)."""
        return len(self._held)

    def feed(self, chunk: bytes) -> bytes:
        if not self._patterns:
            return chunk
        buf = self._held + chunk
        return self._emit(buf, len(buf) - self._keep)

    def release(self) -> bytes:
        """For a quiet stream (no more input for a while): the held bytes no further input can
        make part of a secret, masked as `feed` would. Only a held suffix that is a prefix of a
        pattern stays held (it might be a secret's start), so the output, as always, does not
        depend on when this is called."""
        if not self._patterns or not self._held:
            return b""
        return self._emit(self._held, self._undecided_start())

    def _undecided_start(self) -> int:
        """Where the earliest held suffix that more input could complete into a pattern starts."""
        held = self._held
        for start in range(len(held)):
            tail = held[start:]
            if any(p.startswith(tail) for p in self._patterns):
                return start
        return len(held)

    def flush(self) -> bytes:
        """The rest of the stream; the masker is then ready for a new one."""
        out = self._emit(self._held, len(self._held)) if self._patterns else b""
        self._held, self._held_masked, self._ended_masked = b"", 0, False
        return out

    def _emit(self, buf: bytes, end: int) -> bytes:
        """Emit buf[:end] masked; hold the rest, remembering how much of it a run already covers."""
        if end <= 0:
            self._held = buf
            return b""
        pieces: list[bytes] = []
        pos, last_stop = 0, 0
        for start, stop in self._runs(buf):
            if start >= end:
                break
            pieces.append(buf[pos:start])
            if start > 0 or not self._ended_masked:
                pieces.append(MASK)
            pos, last_stop = min(stop, end), stop
        pieces.append(buf[pos:end])
        self._ended_masked = last_stop >= end
        self._held, self._held_masked = buf[end:], max(last_stop - end, 0)
        return b"".join(pieces)

    def _runs(self, buf: bytes) -> list[tuple[int, int]]:
        """Maximal masked runs of `buf`: occurrences of every pattern, merged when they touch."""
        spans = [(0, self._held_masked)] if self._held_masked else []
        for p, rare in self._scans:
            if rare not in buf:
                continue
            i = buf.find(p)
            while i != -1:
                spans.append((i, i + len(p)))
                i = buf.find(p, i + 1)
        return _merged(spans)


def rarest_byte(pattern: bytes) -> bytes:
    """The pattern's byte least likely in log text: when a chunk lacks it (one memchr), the pattern
    cannot occur there and its full search is skipped (a chatty `7\\n` log skips them all)."""
    return bytes([min(set(pattern), key=lambda b: _COMMONNESS.get(b, 0))])


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    spans.sort()
    runs: list[tuple[int, int]] = []
    for start, stop in spans:
        if runs and start <= runs[-1][1]:
            runs[-1] = (runs[-1][0], max(runs[-1][1], stop))
        else:
            runs.append((start, stop))
    return runs
