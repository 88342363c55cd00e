"""Runner configuration (environment `C8S_*`, checked at start-up)."""

from __future__ import annotations

from typing import Annotated

from msgspec import Meta

from adapters.runtime.settings import CommonSettings


class RunnerSettings(CommonSettings, frozen=True, kw_only=True):
    #: Steps running at once; a StepScheduled beyond it waits for a slot.
    max_parallel_steps: Annotated[int, Meta(gt=0, le=1000)] = 4
    #: StepScheduled messages waiting for a slot at once; one more is handed back at once.
    max_waiting_steps: Annotated[int, Meta(gt=0, le=1000)] = 64
    #: How long a StepScheduled waits for a slot before it is handed back (redelivered).
    slot_wait_seconds: Annotated[float, Meta(gt=0)] = 30.0
    #: SIGTERM to SIGKILL of a step's process group on timeout or cancel.
    kill_grace_seconds: Annotated[float, Meta(ge=0)] = 5.0
    #: How long a git clone + checkout may take before the step fails with CheckoutFailed.
    checkout_timeout_seconds: Annotated[float, Meta(gt=0)] = 600.0
    #: How often a claimed step's outcome file and claim lock are looked at when no exit of its
    #: shim wakes the runner first (a step ends on its shim's exit: adapters.runtime.exits).
    poll_seconds: Annotated[float, Meta(gt=0, le=10)] = 1.0
    #: Delay before a StepScheduled handed back for lack of a free slot comes back.
    busy_retry_seconds: Annotated[float, Meta(gt=0)] = 1.0
    #: Runs whose steps' checkouts are made ahead, from the new PipelineRun (services.runner.lookahead);
    #: 0 turns prefetching off.
    prefetch_runs: Annotated[int, Meta(ge=0, le=1000)] = 4
    #: How long a prefetched checkout waits for its step before it is removed.
    prefetch_seconds: Annotated[float, Meta(gt=0)] = 60.0
    #: On SIGTERM, stop the steps still running instead of leaving them to a later runner.
    #: `c8s dev up` sets it, so Ctrl-C leaves no step behind; a crash or kill -9 never stops
    #: steps (a restarted runner re-attaches to them).
    stop_steps_on_exit: bool = False
