"""Whole runs simulated through the scheduler's pure decider, with hypothesis choosing the DAG,
the steps' exit codes, cancellation and the order in which concurrent steps finish.

Properties: every run finishes exactly once; no step is started twice; a step starts only after
all its dependencies settled; every step ends settled; the final phase is Cancelled when
cancelled, Failed when any step failed, Succeeded otherwise; the PipelineRun status fold of the
same history agrees with the decider on every step's phase.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from api.pipelineconfig import Conditional, PipelineConfigSpec, Step
from api.pipelinerun import PipelineRunSpec
from events import run as ev
from projections import run_progress as progress
from projections import run_status
from services.scheduler.deciding import CancelStep, Publish, StartStep, decide
from tests.support.runs import CONFIG, at, ident


@st.composite
def pipelines(draw: st.DrawFn) -> list[Step]:
    n = draw(st.integers(1, 6))
    steps = []
    for i in range(n):
        deps = (
            draw(st.lists(st.sampled_from([f"s{j}" for j in range(i)]), unique=True, max_size=2)) if i else []
        )
        cleanup = draw(st.booleans()) and bool(deps)
        cond = Conditional(on_success=False) if cleanup else None
        steps.append(Step(name=f"s{i}", image="x", commands=["true"], depends_on=deps, conditional=cond))
    return steps


class Sim:
    def __init__(self, steps: list[Step]) -> None:
        spec = PipelineRunSpec(pipeline_config_ref=CONFIG, commit="abcdef1", branch="main")
        snapshot = PipelineConfigSpec(repository="https://e.com/o/r", steps=steps)
        self.history: list[ev.RunEvent] = []
        self.state = progress.RunProgress()
        self.deps = {s.name: s.depends_on for s in steps}
        self.running: list[str] = []
        self.starts: list[str] = []
        self.clock = 2
        self.record(ev.RunRequested(spec=spec, **ident(0)))
        self.record(ev.RunAccepted(config=CONFIG, snapshot=snapshot, **ident(1)))

    def record(self, event: ev.RunEvent) -> None:
        self.history.append(event)
        self.state = progress.evolve(self.state, event)

    def settle(self) -> None:
        """Apply decisions until the decider asks for nothing new."""
        while decisions := decide(self.state, at(self.clock), timedelta(seconds=30)):
            for d in decisions:
                self.apply(d)
            if all(isinstance(d, CancelStep) for d in decisions):
                break

    def apply(self, d: object) -> None:
        if isinstance(d, StartStep):
            name = d.plan.step.name
            assert all(self.state.steps[x].phase in progress.SETTLED for x in self.deps[name])
            assert name not in self.starts
            self.starts.append(name)
            self.running.append(name)
            self.record(ev.StepScheduled(step=name, job_name=d.plan.ref.job_name, **ident(self.clock)))
            self.record(ev.StepStarted(step=name, **ident(self.clock)))
        elif isinstance(d, Publish):
            self.record(d.event)

    def finish_one(self, index: int, exit_code: int) -> None:
        name = self.running.pop(index % len(self.running))
        self.clock += 1
        self.record(ev.StepFinished(step=name, exit_code=exit_code, **ident(self.clock)))
        self.record(ev.LogShipped(step=name, url=f"u/{name}", **ident(self.clock)))


@settings(max_examples=150)
@given(steps=pipelines(), data=st.data())
def test_simulated_runs_always_finish_consistently(steps: list[Step], data: st.DataObject) -> None:
    """Any DAG with any outcomes and an optional cancel ends in one RunFinished with the right phase."""
    sim = Sim(steps)
    cancel_after = data.draw(st.integers(0, 10) | st.none())
    sim.settle()
    finished_steps = 0
    while not sim.state.done:
        assert sim.running, "the run is stuck: nothing running and no decision"
        sim.finish_one(data.draw(st.integers(0, 5)), data.draw(st.sampled_from([0, 0, 1])))
        finished_steps += 1
        if cancel_after is not None and finished_steps == cancel_after and not sim.state.stopping:
            sim.record(ev.RunCancelRequested(**ident(sim.clock)))
        sim.settle()
    finals = [e for e in sim.history if isinstance(e, ev.RunFinished)]
    assert len(finals) == 1
    phases = {n: p.phase for n, p in sim.state.steps.items()}
    assert set(phases.values()) <= progress.SETTLED
    expected = (
        "Cancelled"
        if sim.state.stopping == "cancelled"
        else ("Failed" if "Failed" in phases.values() else "Succeeded")
    )
    assert finals[0].phase == expected
    status = run_status.fold(enumerate(sim.history, start=1))
    assert status.phase == expected
    assert {s.name: s.phase for s in status.steps} == phases
