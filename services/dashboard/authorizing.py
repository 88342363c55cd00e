"""Who may see and do what (Kubernetes mode): every read and action is authorized by RBAC.

The subject of a request is the owner of its bearer token (TokenReview), or — only when the
request comes straight from a configured trusted proxy (oauth2-proxy style) — the user and groups
in the proxy's headers; headers from any other peer are ignored. A read needs `get` on
pipelineruns in the namespace, Cancel `patch`, Re-run `create` (SubjectAccessReview). A public
namespace is readable by anyone and still changed only by those RBAC allows. Local mode (no
access port) lets everything through: it listens on loopback only.

Invariant: a request is refused (401 without a subject, 403 with one) before any handler reads
anything of a namespace it may not see; listings only show namespaces the subject may read.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web
from msgspec import Struct

from ports.access import Access, Subject, Verb
from services.dashboard.inputs import BadInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Policy(Struct, frozen=True, kw_only=True):
    trusted_proxies: tuple[Network, ...] = ()
    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"
    public: frozenset[str] = frozenset()


def networks(text: str) -> tuple[Network, ...]:
    """`10.0.0.0/8, 192.168.1.7` -> networks; ValueError names a bad entry."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def decide(subject: Subject | None, may: bool, verb: Verb, public: bool) -> int:
    """0 to let the request through, else its status: reads of a public namespace need no one."""
    if verb == "get" and public:
        return 0
    if subject is None:
        return 401
    return 0 if may else 403


class Gate:
    """The dashboard's authorization over the access port (None: local mode, everything allowed)."""

    def __init__(self, access: Access | None, policy: Policy) -> None:
        self.access, self.policy = access, policy

    async def check(self, request: web.Request, namespace: str, verb: Verb) -> None:
        if self.access is None:
            return
        subject = await self.subject(request)
        public = namespace in self.policy.public
        may = subject is not None and await self.access.allowed(subject, verb, namespace)
        status = decide(subject, may, verb, public)
        if status == 401:
            raise BadInput(
                401, "log in: send a bearer token (Authorization: Bearer ...) or come through the proxy"
            )
        if status == 403:
            who = subject.user if subject else ""
            raise BadInput(403, f"{who} may not {verb} pipelineruns in namespace {namespace!r}")

    async def visible(self, request: web.Request, namespaces: Iterable[str]) -> set[str]:
        """The namespaces among `namespaces` whose runs the request may read."""
        wanted = set(namespaces)
        if self.access is None:
            return wanted
        subject = await self.subject(request)
        shown = wanted & self.policy.public
        for ns in sorted(wanted - shown):
            if subject is not None and await self.access.allowed(subject, "get", ns):
                shown.add(ns)
        return shown

    async def subject(self, request: web.Request) -> Subject | None:
        assert self.access is not None
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return await self.access.authenticate(token.strip())
        if self._from_trusted_proxy(request):
            user = request.headers.get(self.policy.user_header, "").strip()
            groups = request.headers.get(self.policy.groups_header, "")
            if user:
                return Subject(user=user, groups=tuple(g.strip() for g in groups.split(",") if g.strip()))
        return None

    def _from_trusted_proxy(self, request: web.Request) -> bool:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if not peer:
            return False
        try:
            address = ipaddress.ip_address(peer[0])
        except ValueError:
            return False
        return any(address in network for network in self.policy.trusted_proxies)
