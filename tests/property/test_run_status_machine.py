"""A hypothesis state machine driving the PipelineRun status fold.

It publishes arbitrary run events into a model of the stream (deduplicated by message id, as
JetStream does within its window), folds them incrementally, and meanwhile redelivers stored
events, replays from any point and republishes old facts under new sequences (a producer that
retried after the dedupe window). After every step it checks: the incremental status equals a
fresh fold of the stored stream; a terminal status never changes; a terminal run has no Pending or
Running step; a Running step implies a Running run; observedSequence is the last stored sequence.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from msgspec.structs import replace

from api.pipelinerun import TERMINAL_RUN_PHASES
from events import run as ev
from events.subjects import message_id
from projections import run_status
from tests.support.runs import CONFIG, NS, RUN, T0, UID, accepted, requested

STEPS = ["a", "b", "c"]
times = st.integers(min_value=0, max_value=3600).map(lambda s: T0 + timedelta(seconds=s))
step_names = st.sampled_from(STEPS) | st.just("zzz")
ids = {"namespace": st.just(NS), "run": st.just(RUN), "uid": st.just(UID), "at": times}
short = st.text("abcxyz", max_size=4)

run_events = st.one_of(
    st.builds(ev.RunCancelRequested, by=short, **ids),
    st.builds(ev.RunCancelled, message=short, **ids),
    st.builds(ev.RunTimedOut, timeout=st.just("1h"), **ids),
)
final_events = st.one_of(
    st.builds(ev.RunRejected, reason=st.just("QuotaExceeded"), message=short, **ids),
    st.builds(
        ev.RunFinished,
        config=st.just(CONFIG),
        phase=st.sampled_from(["Succeeded", "Failed", "Cancelled"]),
        reason=short,
        **ids,
    ),
)
step_events = st.one_of(
    st.builds(ev.StepScheduled, step=step_names, job_name=short, **ids),
    st.builds(ev.StepStarted, step=step_names, **ids),
    st.builds(ev.StepFinished, step=step_names, exit_code=st.none() | st.integers(0, 3), reason=short, **ids),
    st.builds(ev.StepSkipped, step=step_names, reason=short, **ids),
    st.builds(ev.LogShipped, step=step_names, url=short.map(lambda s: f"s3://l/{s}"), **ids),
    st.builds(ev.ArtifactUploaded, step=step_names, url=short, path=short, **ids),
)


class StatusMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.stored: list[tuple[int, ev.RunEvent]] = []
        self.ids: set[str] = set()
        self.status = run_status.initial()
        self.terminal: run_status.Status | None = None

    def _store(self, event: ev.RunEvent) -> None:
        seq = len(self.stored) + 1
        self.stored.append((seq, event))
        self.status = run_status.evolve(self.status, seq, event)

    def _publish(self, event: ev.RunEvent) -> None:
        if message_id(event) not in self.ids:
            self.ids.add(message_id(event))
            self._store(event)

    @rule()
    def request(self) -> None:
        self._publish(requested())

    @rule(second=st.integers(0, 60))
    def accept(self, second: int) -> None:
        self._publish(accepted(*STEPS, second=second))

    @rule(event=run_events)
    def run_event(self, event: ev.RunEvent) -> None:
        self._publish(event)

    @precondition(lambda self: len(self.stored) > 6)
    @rule(event=final_events)
    def final_event(self, event: ev.RunEvent) -> None:
        self._publish(event)

    @precondition(lambda self: any(isinstance(e, ev.RunAccepted) for _, e in self.stored))
    @rule(event=step_events)
    def step_event(self, event: ev.RunEvent) -> None:
        self._publish(event)

    @precondition(lambda self: bool(self.stored))
    @rule(data=st.data())
    def redeliver(self, data: st.DataObject) -> None:
        seq, event = data.draw(st.sampled_from(self.stored))
        assert run_status.evolve(self.status, seq, event) == self.status

    @precondition(lambda self: bool(self.stored))
    @rule(data=st.data())
    def replay_from_any_point(self, data: st.DataObject) -> None:
        start = data.draw(st.integers(0, len(self.stored) - 1))
        assert run_status.fold(self.stored[start:], self.status) == self.status

    @precondition(lambda self: bool(self.stored))
    @rule(data=st.data())
    def republish_after_dedupe_window(self, data: st.DataObject) -> None:
        _, event = data.draw(st.sampled_from(self.stored))
        before = self.status
        self._store(event)
        assert replace(self.status, observed_sequence=0) == replace(before, observed_sequence=0)

    @invariant()
    def incremental_equals_fresh_fold(self) -> None:
        assert run_status.fold(self.stored) == self.status

    @invariant()
    def terminal_is_terminal(self) -> None:
        if self.terminal is not None:
            assert self.status == self.terminal
        elif self.status.phase in TERMINAL_RUN_PHASES:
            self.terminal = self.status

    @invariant()
    def step_phases_agree_with_run_phase(self) -> None:
        phases = {s.phase for s in self.status.steps}
        if self.status.phase in TERMINAL_RUN_PHASES:
            assert not phases & {"Pending", "Running"}
        if "Running" in phases:
            assert self.status.phase == "Running"

    @invariant()
    def position_is_last_stored_sequence_unless_terminal(self) -> None:
        if self.terminal is None:
            assert self.status.observed_sequence == len(self.stored)


StatusMachine.TestCase.settings = settings(max_examples=200, stateful_step_count=30, deadline=None)
TestStatusMachine = StatusMachine.TestCase
