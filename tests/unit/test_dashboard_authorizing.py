"""The dashboard's authorization decision and proxy settings (services/dashboard/authorizing.py).

Covers: reads of a public namespace need no one; everything else needs a subject (401) whom RBAC
allows (403 otherwise), changes included in public namespaces; trusted proxies parse from IPs and
CIDRs, and a bad entry is a ValueError naming it.
"""

from __future__ import annotations

import ipaddress

import pytest

from ports.access import Subject
from services.dashboard.authorizing import decide, networks

ALICE = Subject(user="alice", groups=("dev",))


@pytest.mark.parametrize(
    ("subject", "may", "verb", "public", "status"),
    [
        (None, False, "get", True, 0),
        (None, False, "get", False, 401),
        (None, False, "patch", True, 401),
        (ALICE, False, "get", False, 403),
        (ALICE, False, "patch", True, 403),
        (ALICE, True, "patch", False, 0),
        (ALICE, True, "create", True, 0),
    ],
)
def test_decide(subject: Subject | None, may: bool, verb: str, public: bool, status: int) -> None:
    """Public namespaces are read-only for everyone; the rest is RBAC's answer."""
    assert decide(subject, may, verb, public) == status  # type: ignore[arg-type]


def test_trusted_proxy_networks() -> None:
    """IPs and CIDRs, comma-separated, blanks ignored; a bad entry raises."""
    got = networks(" 10.0.0.0/8, 127.0.0.1 ,,")
    assert got == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"))
    with pytest.raises(ValueError, match=r"proxy\.example"):
        networks("proxy.example")
