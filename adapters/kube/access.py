"""Access over the apiserver: TokenReview for bearer tokens, SubjectAccessReview for decisions.

Decisions are cached for CACHE_SECONDS per (subject, verb, namespace) and tokens per token digest,
so a page with its stream and downloads costs the apiserver a couple of reviews, not one per
request; a revoked right or token stops working within that time. Library failures leave as
ports.access.AccessUnavailable.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.exceptions import ApiException

from ports.access import AccessUnavailable, Subject, Verb

CACHE_SECONDS = 10.0
GROUP, RESOURCE = "c8s.dev", "pipelineruns"


class KubeAccess:
    def __init__(self, api: Any) -> None:
        self._authn = client.AuthenticationV1Api(api)
        self._authz = client.AuthorizationV1Api(api)
        self._tokens: dict[str, tuple[float, Subject | None]] = {}
        self._decisions: dict[tuple[Subject, str, str], tuple[float, bool]] = {}

    async def authenticate(self, token: str) -> Subject | None:
        key = hashlib.sha256(token.encode()).hexdigest()
        cached = self._tokens.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        kind = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview"}
        body: Any = {**kind, "spec": {"token": token}}
        review = await _call(self._authn.create_token_review(body))
        status = review.status
        subject = None
        if status is not None and status.authenticated and status.user is not None:
            subject = Subject(user=status.user.username or "", groups=tuple(status.user.groups or ()))
        self._tokens[key] = (time.monotonic() + CACHE_SECONDS, subject)
        return subject

    async def allowed(self, subject: Subject, verb: Verb, namespace: str) -> bool:
        key = (subject, verb, namespace)
        cached = self._decisions.get(key)
        if cached and cached[0] > time.monotonic():
            return cached[1]
        attributes = {"group": GROUP, "resource": RESOURCE, "verb": verb, "namespace": namespace}
        spec = {"user": subject.user, "groups": list(subject.groups), "resourceAttributes": attributes}
        body: Any = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        review = await _call(self._authz.create_subject_access_review(body))
        verdict = bool(review.status is not None and review.status.allowed)
        self._decisions[key] = (time.monotonic() + CACHE_SECONDS, verdict)
        return verdict


async def _call(request: Any) -> Any:
    try:
        return await request
    except (ApiException, OSError) as e:
        raise AccessUnavailable(f"access review failed: {e!r}"[:500]) from e
