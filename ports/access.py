"""The access port: who a request comes from, and whether they may act on a namespace's runs.

Kubernetes mode answers with the apiserver (adapters/kube/access.py): a bearer token is resolved by
a TokenReview, a decision is a SubjectAccessReview on `pipelineruns.c8s.dev` in the namespace, so
the dashboard grants exactly what RBAC grants (`kubectl auth can-i`). Local mode has no access
port (loopback, no login). Every apiserver failure leaves as AccessUnavailable (answered 503).
"""

from __future__ import annotations

from typing import Literal, Protocol

from msgspec import Struct

Verb = Literal["get", "patch", "create"]


class Subject(Struct, frozen=True, kw_only=True):
    """An authenticated user and their groups."""

    user: str
    groups: tuple[str, ...] = ()


class AccessUnavailable(Exception):
    """The authority could not be asked (retryable)."""


class Access(Protocol):
    async def authenticate(self, token: str) -> Subject | None:
        """The subject a bearer token belongs to, or None when the token is not valid."""
        ...

    async def allowed(self, subject: Subject, verb: Verb, namespace: str) -> bool:
        """Whether `subject` may `verb` pipelineruns in `namespace`."""
        ...
