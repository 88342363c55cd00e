"""Per-step upload tokens (steps.upload_grant), pure.

Covers: a minted token allows keys under its own step's artifact prefix only (not another step,
run, uid or namespace, not the prefix itself, not `..` escapes); it expires at its expiry; a
tampered claim, a token signed with another key and garbage are refused; the expiry covers the
Job's deadline plus the margin.
"""

from __future__ import annotations

import base64
import json

import pytest

from steps.job_manifest import JOB_DEADLINE_SLACK
from steps.plans import StepRef
from steps.upload_grant import CLOCK_MARGIN, UploadRefused, check, expiry, mint

KEY = b"k" * 32
REF = StepRef(namespace="team-a", run="app-1", uid="u-1", step="build", job_name="app-1-build")
PREFIX = "team-a/app-1/u-1/build/artifacts/"
NOW = 1_000_000


def token(expires: int = NOW + 60, key: bytes = KEY) -> str:
    return mint(key, REF, expires)


def test_allows_keys_under_its_prefix() -> None:
    """An upload below the step's own artifact prefix is allowed and returns the claims."""
    claims = check(KEY, token(), PREFIX + "dist/app.txt", NOW)
    assert (claims.namespace, claims.run, claims.uid, claims.step) == ("team-a", "app-1", "u-1", "build")


@pytest.mark.parametrize(
    "key",
    [
        "victim/app-1/u-1/build/artifacts/x",
        "team-a/app-2/u-2/build/artifacts/x",
        "team-a/app-1/u-0/build/artifacts/x",
        "team-a/app-1/u-1/test/artifacts/x",
        "team-a/app-1/u-1/build/log",
        "team-a/app-1/u-1/build/artifacts-x/y",
        PREFIX,
        PREFIX + "../../test/artifacts/x",
        PREFIX + "a//b",
        PREFIX + "./a",
    ],
)
def test_refuses_keys_outside_its_prefix(key: str) -> None:
    """Another namespace, run, uid or step, the log, the bare prefix and escapes are refused."""
    with pytest.raises(UploadRefused, match="only keys under team-a/app-1/u-1/build/artifacts/"):
        check(KEY, token(), key, NOW)


def test_expired_token_is_refused() -> None:
    """At and after its expiry the token allows nothing."""
    check(KEY, token(NOW + 1), PREFIX + "a", NOW)
    with pytest.raises(UploadRefused, match="expired"):
        check(KEY, token(NOW + 1), PREFIX + "a", NOW + 1)


def test_tampered_claims_are_refused() -> None:
    """Rewriting the claims (another namespace, a later expiry) breaks the signature."""
    body, mac = token().split(".")
    claims = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    claims |= {"namespace": "victim", "expires": NOW + 10**9}
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    with pytest.raises(UploadRefused, match="signature"):
        check(KEY, f"{forged}.{mac}", "victim/app-1/u-1/build/artifacts/x", NOW)


@pytest.mark.parametrize("bad", ["", "abc", "abc.", "a.b.c", "!!!.###", token(key=b"other key")])
def test_garbage_and_foreign_tokens_are_refused(bad: str) -> None:
    """Malformed tokens and tokens signed under another key are refused."""
    with pytest.raises(UploadRefused):
        check(KEY, bad, PREFIX + "a", NOW)


def test_expiry_covers_the_jobs_deadline() -> None:
    """A token outlives the Job's own deadline (timeout + slack) by the clock margin, no more."""
    assert expiry(NOW + 0.9, 600) == NOW + 600 + JOB_DEADLINE_SLACK + CLOCK_MARGIN
