"""One AdmissionRequest -> one Verdict: which requests are checked, and with which rules.

- Not ours (another group or kind), DELETE/CONNECT, or a subresource (status): allowed unread.
- UPDATE that leaves `spec` as it was (labels, finalizers, deletion in progress): allowed, so an
  object created before a rule existed can still be relabelled and deleted.
- Otherwise the object must pass api.validation (what `c8s validate` runs: shape, metadata,
  cross-field rules such as dependency cycles), then services.admission.rules against the
  cluster. A PipelineRun's cross-object rules (its config exists, the quota has room) apply when it
  is created only: later spec changes (cancelRequested) must not fail because the cluster moved on.
- A cluster read that fails refuses the request with 503 (fail closed: the webhook is
  failurePolicy Fail), never admits it unchecked; a Secret read refused because the namespace
  is not onboarded refuses it with 403 and the command that onboards it.
"""

from __future__ import annotations

from typing import Any

import msgspec

from api.meta import GROUP
from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun
from api.repositoryconnection import RepositoryConnection
from api.validation import validate_manifest
from ports.resources import NotOnboarded, StoreError
from services.admission.lookups import Lookups
from services.admission.reviews import AdmissionRequest, Verdict
from services.admission.rules import check, needs

CHECKED = ("PipelineConfig", "PipelineRun", "RepositoryConnection")


class Admission:
    def __init__(self, lookups: Lookups) -> None:
        self.lookups = lookups

    async def review(self, request: AdmissionRequest) -> Verdict:
        if not _ours(request):
            return Verdict.allow()
        data = _object(request)
        if request.operation == "UPDATE" and not _spec_changed(request, data):
            return Verdict.allow()
        what = f"{request.kind.kind} {request.namespace}/{request.name or '<generated>'}"
        validated = validate_manifest(data)
        if validated.errors:
            return Verdict.invalid(what, validated.errors)
        obj = validated.obj
        if not isinstance(obj, PipelineConfig | PipelineRun | RepositoryConnection):
            return Verdict.allow()
        if isinstance(obj, PipelineRun) and request.operation != "CREATE":
            return Verdict.allow()
        try:
            facts = await self.lookups.facts(request.namespace, needs(obj))
        except NotOnboarded as e:
            return Verdict.refused(what, str(e))
        except StoreError as e:
            return Verdict.unsure(what, str(e))
        errors = check(obj, facts)
        return Verdict.invalid(what, errors) if errors else Verdict.allow()


def _ours(request: AdmissionRequest) -> bool:
    return (
        request.operation in ("CREATE", "UPDATE")
        and not request.sub_resource
        and request.kind.group == GROUP
        and request.kind.kind in CHECKED
    )


def _object(request: AdmissionRequest) -> dict[str, Any]:
    """The object as parsed JSON, its namespace filled from the request when absent."""
    data = msgspec.json.decode(request.object) if request.object else None
    if not isinstance(data, dict):
        return {}
    metadata = data.setdefault("metadata", {})
    if isinstance(metadata, dict) and not metadata.get("namespace"):
        metadata["namespace"] = request.namespace
    return data


def _spec_changed(request: AdmissionRequest, data: dict[str, Any]) -> bool:
    old = msgspec.json.decode(request.old_object) if request.old_object else None
    return not isinstance(old, dict) or old.get("spec") != data.get("spec")
