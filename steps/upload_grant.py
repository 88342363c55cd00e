"""Per-step artifact upload tokens: what a step's artifacts container may write, and nothing else.

A token names one step (namespace, run, uid, step) and an expiry (unix seconds), signed with
HMAC-SHA256 under c8s's upload key, which only c8s-system holds (the scheduler mints tokens, the
job-watcher's upload endpoint checks them; services/job_watcher/uploads.py). It grants *writing*
objects under that step's artifact prefix `<ns>/<run>/<uid>/<step>/artifacts/`
(steps.job_manifest.artifact_prefix) until its expiry: never reading, never listing, never any
other key. A token is `<claims>.<mac>`, both unpadded base64url; the claims are JSON, so a token
reveals which step it belongs to (nothing secret) and cannot be altered without the key.

Why not S3 presigned POST policies: moto's server mode (the S3 endpoint of the tests) accepts a
POST whatever its policy says (key outside the prefix, expired, tampered policy: all stored), so
the refusal could not be proven on the test stack; see docs/security.md.

Expiry: the Job's own deadline (`timeout + JOB_DEADLINE_SLACK`, counted from its start) ends every
pod of it, so a token minted when the Job is created and valid for that long plus `CLOCK_MARGIN`
(clock skew, a slow pod start) outlives every upload its pod can make, and nothing after.
Pure: the clock and the key are arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import msgspec
from msgspec import Struct

from steps.job_manifest import JOB_DEADLINE_SLACK, artifact_prefix
from steps.plans import StepRef

#: Seconds a token outlives its Job's deadline (clock skew between c8s and the pods' node).
CLOCK_MARGIN = 300


class UploadRefused(Exception):
    """A token does not allow this upload; the message says why (never the key)."""


class UploadClaims(Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    namespace: str
    run: str
    uid: str
    step: str
    #: Unix seconds after which the token allows nothing.
    expires: int

    def prefix(self) -> str:
        ref = StepRef(namespace=self.namespace, run=self.run, uid=self.uid, step=self.step, job_name="")
        return artifact_prefix(ref)


_decoder = msgspec.json.Decoder(UploadClaims)


def expiry(now: float, timeout_seconds: int) -> int:
    """When a token minted at `now` for a step with this timeout stops working."""
    return int(now) + timeout_seconds + JOB_DEADLINE_SLACK + CLOCK_MARGIN


def mint(key: bytes, ref: StepRef, expires: int) -> str:
    """The token allowing uploads under `ref`'s artifact prefix until `expires`."""
    claims = UploadClaims(namespace=ref.namespace, run=ref.run, uid=ref.uid, step=ref.step, expires=expires)
    body = _b64(msgspec.json.encode(claims))
    return f"{body}.{_b64(_mac(key, body))}"


def check(key: bytes, token: str, object_key: str, now: float) -> UploadClaims:
    """The token's claims when it allows writing `object_key` at `now`; UploadRefused otherwise."""
    claims = _verified(key, token)
    if now >= claims.expires:
        raise UploadRefused("the upload token has expired")
    prefix = claims.prefix()
    if not object_key.startswith(prefix) or not _valid_rest(object_key[len(prefix) :]):
        raise UploadRefused(f"the upload token allows only keys under {prefix}")
    return claims


def _verified(key: bytes, token: str) -> UploadClaims:
    body, dot, mac = token.partition(".")
    try:
        given = _unb64(mac)
    except (binascii.Error, ValueError):
        raise UploadRefused("malformed upload token") from None
    if not dot or not hmac.compare_digest(given, _mac(key, body)):
        raise UploadRefused("the upload token's signature does not match")
    try:
        return _decoder.decode(_unb64(body))
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise UploadRefused("malformed upload token") from None


def _valid_rest(rest: str) -> bool:
    """A relative key below the prefix: no empty, `.` or `..` segment."""
    return bool(rest) and all(part not in ("", ".", "..") for part in rest.split("/"))


def _mac(key: bytes, body: str) -> bytes:
    return hmac.new(key, body.encode(), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
