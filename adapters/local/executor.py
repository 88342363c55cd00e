"""The Executor port in local mode: the event is the request.

The runner process claims StepScheduled events from the stream and runs each step as a
subprocess, and reacts to RunCancelled/RunTimedOut by killing the run's processes. So starting a
step here only names its workload (deterministically) and cancelling has nothing to delete.
"""

from __future__ import annotations

from steps.plans import StepPlan, StepRef


class LocalExecutor:
    async def start(self, plan: StepPlan) -> str:
        return plan.ref.job_name

    async def cancel(self, ref: StepRef) -> None:
        return None
