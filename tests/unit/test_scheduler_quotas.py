"""The scheduler and ResourceQuotas: services/scheduler/deciding.py with a quota input, the
charging of in-flight steps (api.quotas.charged, deciding.in_flight), and QuotaExceeded at
acceptance (services/scheduler/accepting.py).

Covers: with no quotas every ready step starts; a step waits while the quota is full and starts
once a step finishes; the steps one decision starts never exceed the free capacity (cpu, memory,
pods); the quota system's lagging `used` is raised to what the scheduler has in flight; a run with
a step beyond a hard limit is rejected with the step, resource, request, limit and fix; a run that
fits is accepted.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal

import pytest

from api.meta import ObjectMeta
from api.pipelineconfig import PipelineConfig, PipelineConfigSpec, Resources, Step
from api.pipelinerun import PipelineRunSpec
from api.quotas import Quota, charged
from events import run as ev
from projections import run_context
from projections import run_progress as progress
from projections.run_context import RunContext
from services.scheduler import accepting
from services.scheduler.deciding import Decision, StartStep, decide, in_flight
from tests.support.runs import CONFIG, NS, at, ident

GRACE = timedelta(seconds=30)
GI = Decimal(2**30)
RUN_SPEC = PipelineRunSpec(pipeline_config_ref=CONFIG, commit="abcdef1")


def step(name: str, *deps: str, cpu: str = "1", memory: str = "1Gi") -> Step:
    resources = Resources(cpu=cpu, memory=memory)
    return Step(name=name, image="alpine", commands=["true"], depends_on=list(deps), resources=resources)


def spec(*steps: Step) -> PipelineConfigSpec:
    return PipelineConfigSpec(repository="https://example.com/o/r", steps=list(steps))


def state(*steps: Step, events: Sequence[ev.RunEvent] = ()) -> progress.RunProgress:
    s = progress.RunProgress()
    for e in (
        ev.RunRequested(spec=RUN_SPEC, **ident(0)),
        ev.RunAccepted(config=CONFIG, snapshot=spec(*steps), **ident(1)),
        *events,
    ):
        s = progress.evolve(s, e)
    return s


def quota(**hard: Decimal) -> Quota:
    return Quota(name="ci", hard={k.replace("_", "."): v for k, v in hard.items()})


def free(s: progress.RunProgress, quotas: Sequence[Quota]) -> list[Quota]:
    """What the service passes: the quotas charged with the run's steps in flight."""
    return charged(quotas, in_flight([s]))


def started(decisions: list[Decision]) -> list[str]:
    return [d.plan.step.name for d in decisions if isinstance(d, StartStep)]


def decided(s: progress.RunProgress, quotas: Sequence[Quota]) -> list[Decision]:
    return decide(s, at(10), GRACE, free(s, quotas))


def test_no_quota_starts_every_ready_step() -> None:
    """Without quotas (local mode) every ready root starts at once, as before."""
    s = state(step("a", cpu="64"), step("b", cpu="64"), step("c", cpu="64"))
    assert started(decided(s, [])) == ["a", "b", "c"]


def test_a_step_waits_while_the_quota_is_full_and_starts_when_freed() -> None:
    """With room for one step, the second waits until the first finishes, then starts."""
    quotas = [quota(requests_cpu=Decimal(1))]
    s = state(step("a"), step("b"))
    assert started(decided(s, quotas)) == ["a"]
    s = progress.evolve(s, ev.StepScheduled(step="a", job_name="j-a", **ident(2)))
    assert started(decided(s, quotas)) == []
    s = progress.evolve(s, ev.StepStarted(step="a", **ident(3)))
    assert started(decided(s, quotas)) == []
    s = progress.evolve(s, ev.StepFinished(step="a", exit_code=0, **ident(4)))
    assert started(decided(s, quotas)) == ["b"]


@pytest.mark.parametrize(
    ("hard", "expected"),
    [
        ({"cpu": Decimal("2.5")}, ["a", "b", "d"]),
        ({"limits.memory": 3 * GI}, ["a", "b", "c"]),
        ({"requests.memory": 2 * GI}, ["a", "b"]),
        ({"pods": Decimal(1)}, ["a"]),
        ({"count/pods": Decimal(2)}, ["a", "b"]),
        ({"count/jobs.batch": Decimal(0)}, ["a", "b", "c", "d"]),
    ],
)
def test_one_decision_never_exceeds_the_free_capacity(hard: dict[str, Decimal], expected: list[str]) -> None:
    """The steps one decision starts fit together, for cpu, memory and pods; other resources do not
    hold steps back."""
    s = state(step("a"), step("b"), step("c", memory="512Mi"), step("d", cpu="500m", memory="2Gi"))
    assert started(decided(s, [Quota(name="ci", hard=hard)])) == expected


def test_a_smaller_later_step_may_start_past_a_waiting_one() -> None:
    """A step that fits starts even when an earlier ready one is still waiting for room."""
    s = state(step("big", cpu="2"), step("small", cpu="500m"))
    assert started(decided(s, [quota(cpu=Decimal(1))])) == ["small"]


def test_in_flight_steps_are_charged_even_when_the_quota_system_lags() -> None:
    """`used` is raised to the scheduler's scheduled and running steps, never lowered."""
    s = state(step("a"), step("b", cpu="500m"), step("c"))
    for name in ("a", "b"):
        s = progress.evolve(s, ev.StepScheduled(step=name, job_name=f"j-{name}", **ident(2)))
    assert in_flight([s]) == {"cpu": Decimal("1.5"), "memory": 2 * GI, "pods": Decimal(2)}
    lagging = Quota(name="ci", hard={"cpu": Decimal(4), "pods": Decimal(9)}, used={"cpu": Decimal(0)})
    ahead = Quota(name="other", hard={"cpu": Decimal(4)}, used={"cpu": Decimal(3)})
    [q1, q2] = charged([lagging, ahead], in_flight([s]))
    assert q1.used == {"cpu": Decimal("1.5"), "pods": Decimal(2)}
    assert q2.used == {"cpu": Decimal(3)}


def accept(quotas: Sequence[Quota], *steps: Step) -> ev.RunAccepted | ev.RunRejected:
    config = PipelineConfig(metadata=ObjectMeta(namespace=NS, name=CONFIG, generation=1), spec=spec(*steps))
    ctx = run_context.evolve(
        RunContext(),
        ev.RunRequested(spec=PipelineRunSpec(pipeline_config_ref=CONFIG, commit="abcdef1"), **ident(0)),
    )
    return accepting.accept(ctx, accepting.Inputs(config=config, connection=None), quotas, at(1))


def test_a_step_beyond_a_hard_limit_rejects_the_run() -> None:
    """QuotaExceeded names the step, the resource, its request, the limit and the fix."""
    quotas = [Quota(name="ci", hard={"requests.cpu": Decimal(2)}, used={"requests.cpu": Decimal(2)})]
    result = accept(quotas, step("build", cpu="1"), step("bench", cpu="4"))
    assert isinstance(result, ev.RunRejected)
    assert result.reason == "QuotaExceeded"
    assert result.message == (
        "step 'bench' requests cpu 4 but ResourceQuota 'ci' allows at most 2 (requests.cpu) in namespace "
        "'team-a', so it could never start: lower resources.cpu of that step in PipelineConfig 'app-ci' "
        "or raise the quota"
    )


def test_a_pod_quota_of_zero_rejects_the_run() -> None:
    """A `pods` limit of 0 leaves no room for any step: the fix is to raise the quota."""
    result = accept([Quota(name="none", hard={"pods": Decimal(0)})], step("a"))
    assert isinstance(result, ev.RunRejected) and result.reason == "QuotaExceeded"
    assert "requests pods 1 but ResourceQuota 'none' allows at most 0 (pods)" in result.message
    assert result.message.endswith("could never start: raise the quota")


def test_a_run_that_fits_the_hard_limits_is_accepted_even_when_they_are_used_up() -> None:
    """Capacity in use now only delays steps; acceptance checks the hard limits."""
    quotas = [Quota(name="ci", hard={"cpu": Decimal(2), "pods": Decimal(1)}, used={"cpu": Decimal(2)})]
    assert isinstance(accept(quotas, step("a", cpu="2"), step("b", cpu="2")), ev.RunAccepted)
