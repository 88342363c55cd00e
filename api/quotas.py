"""Do steps fit a namespace's ResourceQuotas? The Quota value and pure arithmetic on quantities.

A step's `resources` are both its requests and its limits (steps.job_manifest), so a step is
charged against `requests.cpu`/`cpu` and `limits.cpu`, and `requests.memory`/`memory` and
`limits.memory`. A single step must fit every quota's hard limit (else it could never start); a
run's steps together must fit what each quota has left (hard - used), as spec/data-model.md asks
("sum of all step resources in a PipelineRun MUST fit within quota"). The checkout init container
and the artifacts sidecar are small and not counted. Every step is one pod, charged against `pods`
and `count/pods` by `pod_demand` (the scheduler's view; the admission webhook sums `demand` only,
since a run's steps need not run at once).

Shared by the admission webhook and the scheduler; quantities are Decimals in base units (cores,
bytes, object counts), parsed at the edge (adapters.kube.quotas).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal

import msgspec
from msgspec import Struct

from api.durations import parse_cpu, parse_memory
from api.pipelineconfig import Step

#: Quota resource name -> the step field it limits.
LIMITED: dict[str, str] = {
    "requests.cpu": "cpu",
    "cpu": "cpu",
    "limits.cpu": "cpu",
    "requests.memory": "memory",
    "memory": "memory",
    "limits.memory": "memory",
    "pods": "pods",
    "count/pods": "pods",
}
_GI, _MI = Decimal(2**30), Decimal(2**20)


class Quota(Struct, frozen=True, kw_only=True):
    """One ResourceQuota: its hard limits and the usage the quota system has recorded."""

    name: str
    hard: dict[str, Decimal] = msgspec.field(default_factory=dict)
    #: Empty until the quota controller first computes usage.
    used: dict[str, Decimal] = msgspec.field(default_factory=dict)

    def free(self, resource: str) -> Decimal | None:
        """What is left of `resource` (never below 0); None when this quota does not limit it."""
        limit = self.hard.get(resource)
        if limit is None:
            return None
        return max(Decimal(0), limit - self.used.get(resource, Decimal(0)))


class Overrun(Struct, frozen=True, kw_only=True):
    """`wanted` of a quota's `resource` (base units) against `allowed`, of which `used` is taken."""

    quota: str
    resource: str
    field: str
    wanted: Decimal
    allowed: Decimal
    used: Decimal

    def amounts(self) -> tuple[str, str, str]:
        wanted, allowed, used = (amount(self.field, v) for v in (self.wanted, self.allowed, self.used))
        return wanted, allowed, used


def demand(step: Step) -> dict[str, Decimal]:
    """A step's cpu (cores) and memory (bytes); a field that does not parse is skipped (a shape error)."""
    out: dict[str, Decimal] = {}
    with contextlib.suppress(ValueError):
        out["cpu"] = Decimal(parse_cpu(step.resources.cpu)) / 1000
    with contextlib.suppress(ValueError):
        out["memory"] = Decimal(parse_memory(step.resources.memory))
    return out


def pod_demand(step: Step) -> dict[str, Decimal]:
    """What one running step takes: its cpu and memory, and one pod."""
    return {**demand(step), "pods": Decimal(1)}


def total(steps: Iterable[Step]) -> dict[str, Decimal]:
    summed: dict[str, Decimal] = {}
    for step in steps:
        for name, value in demand(step).items():
            summed[name] = summed.get(name, Decimal(0)) + value
    return summed


def beyond_hard(wanted: dict[str, Decimal], quotas: Sequence[Quota]) -> list[Overrun]:
    """Each quota limit that `wanted` exceeds even with nothing else running."""
    return [o for o in _compare(wanted, quotas) if o.wanted > o.allowed]


def beyond_free(wanted: dict[str, Decimal], quotas: Sequence[Quota]) -> list[Overrun]:
    """Each quota limit that `wanted` exceeds given what is in use now."""
    return [o for o in _compare(wanted, quotas) if o.wanted > o.allowed - o.used]


def _compare(wanted: dict[str, Decimal], quotas: Sequence[Quota]) -> Iterable[Overrun]:
    for quota in quotas:
        for resource, field in LIMITED.items():
            hard = quota.hard.get(resource)
            if hard is None or field not in wanted:
                continue
            used = quota.used.get(resource, Decimal(0))
            yield Overrun(
                quota=quota.name,
                resource=resource,
                field=field,
                wanted=wanted[field],
                allowed=hard,
                used=used,
            )


def charged(quotas: Sequence[Quota], in_flight: Mapping[str, Decimal]) -> list[Quota]:
    """The quotas with `used` at least `in_flight` (the scheduler's own steps, which the quota
    system counts only once their pods exist, so its figures lag behind the scheduler's)."""
    out = []
    for quota in quotas:
        used = dict(quota.used)
        for resource in quota.hard.keys() & LIMITED.keys():
            mine = in_flight.get(LIMITED[resource], Decimal(0))
            used[resource] = max(used.get(resource, Decimal(0)), mine)
        out.append(msgspec.structs.replace(quota, used=used))
    return out


def amount(field: str, value: Decimal) -> str:
    """A quantity as a manifest would write it: CPU in cores or millicores, memory in Gi or Mi."""
    if field == "pods":
        return _plain(value)
    if field == "cpu":
        return _plain(value) if value == value.to_integral_value() else f"{_plain(value * 1000)}m"
    for unit, size in (("Gi", _GI), ("Mi", _MI)):
        if value % size == 0:
            return f"{_plain(value / size)}{unit}"
    return f"{_plain(value)} bytes"


def _plain(value: Decimal) -> str:
    return format(value.normalize(), "f")
