"""Dashboard configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import Meta

from adapters.runtime.settings import CommonSettings


class DashboardSettings(CommonSettings, frozen=True, kw_only=True):
    #: Where the dashboard listens; loopback by default (local mode: no login, so loopback only).
    listen_host: str = "127.0.0.1"
    listen_port: Annotated[int, Meta(ge=0, le=65535)] = 8081
    #: Hex key for the CSRF tokens of the Cancel and Re-run forms; empty: random per process
    #: (forms rendered before a restart then ask for a reload). Set it when running replicas.
    csrf_key: Annotated[str, Meta(pattern=r"^([0-9a-fA-F]{32,})?$")] = ""
    #: Kubernetes mode: "auto" authorizes every read and action with RBAC (SubjectAccessReview);
    #: "off" lets everyone through (only behind something that already restricts access).
    authorization: Literal["auto", "off"] = "auto"
    #: Comma-separated IPs/CIDRs of authenticating proxies whose user/group headers are trusted.
    trusted_proxies: str = ""
    user_header: str = "X-Forwarded-User"
    groups_header: str = "X-Forwarded-Groups"
    #: Comma-separated namespaces anyone may read (open-source projects); changes still need RBAC.
    public_namespaces: str = ""
