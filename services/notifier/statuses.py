"""Which commit status a run event calls for, and how it reads: pure.

Two transitions per run: `pending` when the scheduler accepts it (RunAccepted) and `finished` when
it reaches its final phase (RunFinished: Succeeded, Failed, Cancelled) or is rejected (RunRejected:
the commit shows an error with the reason, so a broken config is seen where the push is).
Everything else in the stream is silent. The context names the config and, for a matrix run, its
combination (`c8s/app-ci (os=linux, python=3.12)`, dimensions sorted), so the runs of one push stay
apart on the commit; the description fits GitHub's 140 characters; the link is
`<public url>/runs/<ns>/<run>`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from msgspec import Struct

from events.notification import Transition
from events.run import FinalPhase, RunAccepted, RunEvent, RunFinished, RunRejected

#: The run's state as every provider is told it, before each one's spelling.
Outcome = Literal["pending", "succeeded", "failed", "cancelled", "rejected"]
MAX_DESCRIPTION = 140
CONTEXT_PREFIX = "c8s/"

_OUTCOME_OF_PHASE: dict[FinalPhase, Outcome] = {
    "Succeeded": "succeeded",
    "Failed": "failed",
    "Cancelled": "cancelled",
}


class Report(Struct, frozen=True, kw_only=True):
    """One commit status to report: which transition, the outcome and a short description."""

    transition: Transition
    outcome: Outcome
    description: str


class CommitStatus(Struct, frozen=True, kw_only=True):
    """A commit status as every provider gets it, before each one's spelling of the state."""

    commit: str
    branch: str | None
    outcome: Outcome
    context: str
    description: str
    target_url: str


def report_for(event: RunEvent) -> Report | None:
    """The status a run event calls for, or None for an event that reports nothing."""
    if isinstance(event, RunAccepted):
        return Report(transition="pending", outcome="pending", description="Running")
    if isinstance(event, RunFinished):
        return Report(
            transition="finished",
            outcome=_OUTCOME_OF_PHASE[event.phase],
            description=finished_description(event),
        )
    if isinstance(event, RunRejected):
        text = f"Rejected ({event.reason}): {event.message}" if event.message else f"Rejected: {event.reason}"
        return Report(transition="finished", outcome="rejected", description=shorten(text, MAX_DESCRIPTION))
    return None


def finished_description(event: RunFinished) -> str:
    detail = event.message or event.reason
    text = f"{event.phase}: {detail}" if detail and detail != event.phase else event.phase
    return shorten(text, MAX_DESCRIPTION)


def context_name(config: str, matrix: Mapping[str, str] | None) -> str:
    """`c8s/<config>`, plus `(dimension=value, ...)` sorted by dimension for a matrix run."""
    base = CONTEXT_PREFIX + config
    if not matrix:
        return base
    values = ", ".join(f"{k}={v}" for k, v in sorted(matrix.items()))
    return f"{base} ({values})"


def run_url(public_url: str, namespace: str, run: str) -> str:
    return f"{public_url.rstrip('/')}/runs/{namespace}/{run}"


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, an ellipsis marking the cut."""
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"
