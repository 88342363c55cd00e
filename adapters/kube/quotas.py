"""The quota port over ResourceQuota objects (core v1), read through CoreV1Api.

`hard` is the quota's status.hard (what the quota controller enforces), falling back to spec.hard
before the controller has synced it; `used` is status.used. Kubernetes quantities ("500m", "1.5",
"4Gi", "2G", "1e3") are parsed here into Decimals in base units, so no quantity string leaves the
adapter; an unparsable one is Invalid. Failures leave as ports.resources errors.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from kubernetes_asyncio import client

from adapters.kube.errors import translated
from ports.quotas import Quota
from ports.resources import Invalid

_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eE][+-]?[0-9]+|[numkMGTPE]|[KMGTPE]i)?$")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(text: str) -> Decimal:
    """A Kubernetes quantity in base units: '500m' -> 0.5, '4Gi' -> 4294967296, '1e3' -> 1000."""
    match = _QUANTITY.match(text.strip())
    try:
        number = Decimal(match[1]) if match else None
    except InvalidOperation:
        number = None
    if match is None or number is None:
        raise Invalid(f"not a Kubernetes quantity: {text!r}")
    suffix = match[2] or ""
    if suffix in _BINARY:
        return number * (Decimal(1024) ** _BINARY[suffix])
    if suffix in _DECIMAL:
        return number.scaleb(_DECIMAL[suffix])
    return number.scaleb(int(suffix[1:])) if suffix else number


def _quantities(values: dict[str, str] | None) -> dict[str, Decimal]:
    return {name: parse_quantity(str(v)) for name, v in (values or {}).items()}


class KubeQuotas:
    """Quotas of a namespace from its ResourceQuota objects."""

    def __init__(self, api: Any, timeout: float = 10.0) -> None:
        self._api: Any = client.CoreV1Api(api)
        self._timeout = timeout

    async def of_namespace(self, namespace: str) -> list[Quota]:
        async with translated(f"ResourceQuotas in {namespace}"):
            listed = await self._api.list_namespaced_resource_quota(namespace, _request_timeout=self._timeout)
        return sorted((_quota(item) for item in listed.items or []), key=lambda q: q.name)


def _quota(item: Any) -> Quota:
    status, spec = item.status, item.spec
    hard = (status.hard if status is not None else None) or (spec.hard if spec is not None else None)
    used = status.used if status is not None else None
    return Quota(name=item.metadata.name, hard=_quantities(hard), used=_quantities(used))
