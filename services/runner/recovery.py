"""What to do with a claimed step, decided from what is on disk: a pure decision.

A step's life on disk, in order (services.runner.step_files):
1. `<step>.claim` appears whole, its lock held by the claiming runner (checkout, secrets);
2. the shim inherits the lock, writes `<step>.started` and only then starts the step's process;
3. the shim writes `<step>.outcome` (then `.exit`) and exits, which frees the lock.
The runner publishes StepStarted only once `.started` exists, so no StepStarted (and no log) ever
exists for a process that never ran.

Whoever looks at a claim first tries to take its lock (services.runner.claims.take_over). flock is
tied to open files, not pids: the lock is free exactly when the claiming runner and every shim
that inherited it are gone, so a free lock means its owner is known dead, and taking it makes the
taker the only one that may act on the step. Then, in this order:
- an outcome: the step ended; report it (StepStarted first if `.started` says it ran);
- the lock is held by someone else: a runner is preparing the step or a shim runs it; wait;
- no `.started`: the owner died before any process ran (after the claim, during the checkout,
  before or while launching the shim): nothing of the step happened, so it is started again
  under the lock just taken;
- `.started` but no outcome: a process was (or was about to be) started and its shim died with
  it, so how it ended cannot be known, and running it again could repeat its effects: the step
  is reported RunnerLost, with a message that says so. The marker is written *before* the
  process starts, so a shim that died in between errs on the side of never running a step twice.
"""

from __future__ import annotations

from msgspec import Struct

from services.runner.step_files import Outcome, Started


class Found(Struct, frozen=True, kw_only=True):
    """A claimed step as seen on disk, looked at after trying to take its lock."""

    #: The lock was free and is now held by the looker.
    owned: bool
    started: Started | None = None
    outcome: Outcome | None = None


class Report(Struct, frozen=True, kw_only=True):
    """The step ended: publish StepStarted (when it ran) and StepFinished with this outcome."""

    outcome: Outcome


class Await(Struct, frozen=True):
    """Someone alive works on the step: look again later."""


class Restart(Struct, frozen=True):
    """The step's process never started and its owner is dead: start it again."""


Verdict = Report | Await | Restart


def decide(found: Found) -> Verdict:
    """The one thing to do with a claimed step found in this state."""
    if found.outcome is not None:
        return Report(outcome=found.outcome)
    if not found.owned:
        return Await()
    if found.started is None:
        return Restart()
    return Report(outcome=lost(found.started))


def lost(started: Started) -> Outcome:
    """The outcome of a step whose process started but whose shim died before recording its end."""
    return Outcome(
        exit_code=None,
        reason="RunnerLost",
        message=(
            f"the step started at {started.at.isoformat()} (shim pid {started.shim_pid}), but its shim "
            "died before recording how it ended: the outcome cannot be known, and the step is not "
            "run again since it may already have had effects"
        ),
    )
