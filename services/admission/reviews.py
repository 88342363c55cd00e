"""The admission.k8s.io/v1 AdmissionReview wire format: a request in, a response with its uid out.

Only the fields the webhook reads are declared; unknown ones are ignored (the apiserver adds
fields across releases). `object`/`oldObject` stay raw JSON until the decision needs them, so a
DELETE or a status update is answered without decoding the object at all.
"""

from __future__ import annotations

import msgspec
from msgspec import Raw, Struct, field

from api.fielderrors import FieldError

API_VERSION = "admission.k8s.io/v1"


class UnreadableReview(ValueError):
    """The body is not an AdmissionReview with a request (answered 400)."""


class GroupVersionKind(Struct, frozen=True, kw_only=True):
    group: str = ""
    version: str = ""
    kind: str = ""


class AdmissionRequest(Struct, frozen=True, kw_only=True, rename="camel"):
    uid: str
    kind: GroupVersionKind
    operation: str
    namespace: str = ""
    name: str = ""
    sub_resource: str = ""
    object: Raw = field(default_factory=Raw)
    old_object: Raw = field(default_factory=Raw)
    dry_run: bool = False


class AdmissionReview(Struct, frozen=True, kw_only=True, rename="camel"):
    api_version: str = API_VERSION
    kind: str = "AdmissionReview"
    request: AdmissionRequest | None = None


class Status(Struct, frozen=True, kw_only=True):
    code: int
    message: str
    reason: str = ""


class AdmissionResponse(Struct, frozen=True, kw_only=True, omit_defaults=True):
    uid: str
    allowed: bool
    status: Status | None = None


class ResponseReview(Struct, frozen=True, kw_only=True, rename="camel"):
    response: AdmissionResponse
    api_version: str = API_VERSION
    kind: str = "AdmissionReview"


class Verdict(Struct, frozen=True, kw_only=True):
    """Allowed, or refused with the reasons (`code` 422 for invalid objects, 403 when the namespace
    is not onboarded, 503 when unsure)."""

    allowed: bool
    message: str = ""
    code: int = 422

    @classmethod
    def allow(cls) -> Verdict:
        return cls(allowed=True)

    @classmethod
    def invalid(cls, what: str, errors: list[FieldError]) -> Verdict:
        return cls(allowed=False, message=f"{what} is invalid: " + "; ".join(str(e) for e in errors))

    @classmethod
    def refused(cls, what: str, problem: str) -> Verdict:
        """Refused for a reason outside the object that an operator fixes (403)."""
        return cls(allowed=False, code=403, message=f"cannot check {what}: {problem}")

    @classmethod
    def unsure(cls, what: str, problem: str) -> Verdict:
        return cls(allowed=False, code=503, message=f"cannot check {what} now ({problem}): retry")


_decoder = msgspec.json.Decoder(AdmissionReview)
_encoder = msgspec.json.Encoder()


def read_request(body: bytes) -> AdmissionRequest:
    try:
        review = _decoder.decode(body)
    except msgspec.DecodeError as e:
        raise UnreadableReview(f"not an AdmissionReview: {e}") from e
    if review.request is None:
        raise UnreadableReview("the AdmissionReview has no request")
    return review.request


def response(uid: str, verdict: Verdict) -> bytes:
    status = None
    if not verdict.allowed:
        reason = "Invalid" if verdict.code == 422 else "ServiceUnavailable"
        status = Status(code=verdict.code, message=verdict.message, reason=reason)
    answer = AdmissionResponse(uid=uid, allowed=verdict.allowed, status=status)
    return _encoder.encode(ResponseReview(response=answer))
