"""What `c8s get` shows for each kind: the columns (kubectl's, from the CRDs' printer columns and the
config and connection statistics) and the cells of one object. Pure: "now" is a parameter.

Runs:        NAME STATUS CONFIG COMMIT EVENT AGE (the trigger's event: push, tag, pull_request)
Configs:     NAME REPOSITORY LAST-RUN TOTAL SUCCESS-RATE AGE
Connections: NAME REPOSITORY PROVIDER LAST-EVENT AGE
A run's steps (`c8s get pr NAME`): STEP PHASE EXIT DURATION
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from api.pipelineconfig import PipelineConfig
from api.pipelinerun import PipelineRun, StepStatus
from api.repositoryconnection import RepositoryConnection
from c8s.render.ages import NONE, age, human_duration

Listed = PipelineConfig | PipelineRun | RepositoryConnection

HEADERS: dict[type[Listed], list[str]] = {
    PipelineRun: ["NAME", "STATUS", "CONFIG", "COMMIT", "EVENT", "AGE"],
    PipelineConfig: ["NAME", "REPOSITORY", "LAST-RUN", "TOTAL", "SUCCESS-RATE", "AGE"],
    RepositoryConnection: ["NAME", "REPOSITORY", "PROVIDER", "LAST-EVENT", "AGE"],
}
STEP_HEADER = ["STEP", "PHASE", "EXIT", "DURATION"]


def header(kind: type[Listed], with_namespace: bool) -> list[str]:
    return (["NAMESPACE"] if with_namespace else []) + HEADERS[kind]


def row(obj: Listed, now: datetime, with_namespace: bool) -> list[str]:
    cells = [*_cells(obj, now), age(obj.metadata.creation_timestamp, now)]
    return ([obj.metadata.namespace] if with_namespace else []) + [obj.metadata.name, *cells]


def _cells(obj: Listed, now: datetime) -> list[str]:
    if isinstance(obj, PipelineRun):
        event = obj.spec.trigger.event if obj.spec.trigger is not None else NONE
        return [run_phase(obj), obj.spec.pipeline_config_ref, obj.spec.commit, event]
    if isinstance(obj, PipelineConfig):
        return _config_cells(obj, now)
    return _connection_cells(obj, now)


def run_phase(run: PipelineRun) -> str:
    """The run's phase; a run the projector has not written yet is Pending."""
    return run.status.phase if run.status is not None else "Pending"


def _config_cells(config: PipelineConfig, now: datetime) -> list[str]:
    status = config.status
    if status is None:
        return [config.spec.repository, NONE, "0", NONE]
    rate = NONE if status.success_rate is None else f"{status.success_rate:.0%}"
    return [config.spec.repository, age(status.last_run, now), str(status.total_runs), rate]


def _connection_cells(connection: RepositoryConnection, now: datetime) -> list[str]:
    event = connection.status.last_event if connection.status is not None else None
    spec = connection.spec
    if event is None:
        return [spec.repository, spec.provider, NONE]
    described = " ".join(part for part in (event.type, (event.commit or "")[:7]) if part)
    when = f" ({age(event.timestamp, now)} ago)" if event.timestamp is not None else ""
    return [spec.repository, spec.provider, described + when]


def step_rows(steps: Sequence[StepStatus], now: datetime) -> list[list[str]]:
    return [[s.name, s.phase, _exit(s), step_duration(s, now)] for s in steps]


def _exit(step: StepStatus) -> str:
    return NONE if step.exit_code is None else str(step.exit_code)


def step_duration(step: StepStatus, now: datetime) -> str:
    """Start to completion; a running step counts up to now; a step that never started has none."""
    if step.start_time is None:
        return NONE
    return human_duration((step.completion_time or now) - step.start_time)
