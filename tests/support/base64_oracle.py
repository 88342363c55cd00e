"""An oracle independent of the masker: everything base64-decoding a text could reveal.

Each maximal run of base64 characters (either alphabet) is decoded at each of the four character
alignments, so a value hidden anywhere inside an encoded blob shows up in one of the decodings.
"""

from __future__ import annotations

import base64
import re

_RUN = re.compile(rb"[A-Za-z0-9+/]{4,}")


def decodings(text: bytes) -> list[bytes]:
    """The bytes of every run of base64 characters in `text`, decoded at every alignment."""
    out: list[bytes] = []
    for run in _RUN.findall(text.replace(b"-", b"+").replace(b"_", b"/")):
        for offset in range(4):
            part = run[offset:]
            out.append(base64.b64decode(part[: len(part) // 4 * 4]))
    return out


def revealed(secret: bytes, text: bytes) -> bool:
    """True if `secret` appears in `text` as is or inside any base64 decoding of it."""
    return secret in text or any(secret in d for d in decodings(text))
