"""The CEL rules and printer columns of the c8s CRDs: what a structural schema cannot say.

Rules are keyed by (kind, schema path), where `a.b` is a property and `a[]` the items of a list.
Every list and string a rule walks has maxItems/maxLength in the Structs, so the apiserver's cost
estimate stays far inside its budget (e.g. unique step names: 100 x 100 comparisons of <= 63 chars).
"""

from __future__ import annotations

import msgspec.inspect as mi

from api.pipelinerun import TERMINAL_RUN_PHASES, PipelineRunSpec

Rule = dict[str, str]

_TERMINAL = ", ".join(f"'{p}'" for p in sorted(TERMINAL_RUN_PHASES))

_UNIQUE_STEPS: Rule = {
    "rule": "self.all(s, self.exists_one(t, t.name == s.name))",
    "message": "step names must be unique within a pipeline",
}
_NOT_SELF_DEPENDENT: Rule = {
    "rule": "!has(self.dependsOn) || !(self.name in self.dependsOn)",
    "message": "a step cannot depend on itself",
    "fieldPath": ".dependsOn",
}
_TERMINAL_IS_TERMINAL: Rule = {
    "rule": f"!has(oldSelf.phase) || !(oldSelf.phase in [{_TERMINAL}]) "
    "|| (has(self.phase) && self.phase == oldSelf.phase)",
    "message": "a finished run (Succeeded, Failed or Cancelled) never changes phase",
    "fieldPath": ".phase",
}
_NO_WAY_BACK: Rule = {
    "rule": "!(has(oldSelf.phase) && oldSelf.phase == 'Running' "
    "&& has(self.phase) && self.phase == 'Pending')",
    "message": "a Running run cannot go back to Pending",
    "fieldPath": ".phase",
}
_CANCEL_STAYS: Rule = {
    "rule": "!(has(oldSelf.cancelRequested) && oldSelf.cancelRequested) "
    "|| (has(self.cancelRequested) && self.cancelRequested)",
    "message": "cancelRequested cannot be set back to false",
    "fieldPath": ".cancelRequested",
}


def _immutable(name: str) -> Rule:
    """`spec.<name>` keeps its value, and its presence, across updates."""
    return {
        "rule": f"has(self.{name}) == has(oldSelf.{name}) "
        f"&& (!has(self.{name}) || self.{name} == oldSelf.{name})",
        "message": f"{name} is immutable: create a new PipelineRun instead (only cancelRequested may change)",
        "fieldPath": f".{name}",
    }


def _run_spec_rules() -> list[Rule]:
    info = mi.type_info(PipelineRunSpec)
    assert isinstance(info, mi.StructType)
    names = [f.encode_name for f in info.fields if f.encode_name != "cancelRequested"]
    return [*(_immutable(name) for name in names), _CANCEL_STAYS]


RULES: dict[tuple[str, str], list[Rule]] = {
    ("PipelineConfig", "spec.steps"): [_UNIQUE_STEPS],
    ("PipelineConfig", "spec.steps[]"): [_NOT_SELF_DEPENDENT],
    ("PipelineRun", "spec"): _run_spec_rules(),
    ("PipelineRun", "status"): [_TERMINAL_IS_TERMINAL, _NO_WAY_BACK],
}

_AGE: dict[str, str | int] = {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}

PRINTER_COLUMNS: dict[str, list[dict[str, str | int]]] = {
    "PipelineConfig": [
        {"name": "Repository", "type": "string", "jsonPath": ".spec.repository"},
        {"name": "Runs", "type": "integer", "jsonPath": ".status.totalRuns"},
        _AGE,
    ],
    "PipelineRun": [
        {"name": "Status", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Config", "type": "string", "jsonPath": ".spec.pipelineConfigRef"},
        {"name": "Commit", "type": "string", "jsonPath": ".spec.commit"},
        {"name": "Event", "type": "string", "jsonPath": ".spec.trigger.event"},
        {"name": "PR", "type": "integer", "jsonPath": ".spec.trigger.number", "priority": 1},
        {"name": "Target", "type": "string", "jsonPath": ".spec.trigger.targetBranch", "priority": 1},
        _AGE,
    ],
    "RepositoryConnection": [
        {"name": "Repository", "type": "string", "jsonPath": ".spec.repository"},
        {"name": "Provider", "type": "string", "jsonPath": ".spec.provider"},
        _AGE,
    ],
}
