"""The `Succeeded` condition, kept the way Kubernetes tooling (kstatus, Tekton) expects it.

lastTransitionTime changes only when the condition's status changes, not on every reason update.
"""

from __future__ import annotations

from datetime import datetime

from api.pipelinerun import Condition, ConditionStatus

SUCCEEDED = "Succeeded"


def set_condition(
    conditions: list[Condition],
    status: ConditionStatus,
    reason: str,
    message: str,
    at: datetime,
) -> list[Condition]:
    """A new list with the Succeeded condition set; other condition types are kept as they are."""
    old = next((c for c in conditions if c.type == SUCCEEDED), None)
    changed = old is None or old.status != status
    new = Condition(
        type=SUCCEEDED,
        status=status,
        reason=reason,
        message=message or None,
        last_transition_time=at if changed or old is None else old.last_transition_time,
    )
    if old == new:
        return conditions
    return [c for c in conditions if c.type != SUCCEEDED] + [new]
