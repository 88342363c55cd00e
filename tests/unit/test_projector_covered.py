"""services/projector/covered.py: what the projector may skip, or fold from, without a store read:
how far a run's stored status is known to cover, the status itself while the run is running (never
an older one), nothing kept for a finished run, and a run forgotten when the store refused a write."""

from __future__ import annotations

from api.pipelinerun import PipelineRunStatus
from services.projector.covered import Covered

RUN = ("ns", "app-ci-1", "uid-1")


def test_covers_up_to_the_furthest_status_seen_never_less() -> None:
    covered = Covered()
    assert not covered.covers(RUN, 1)
    covered.stored(RUN, PipelineRunStatus(phase="Running", observed_sequence=7))
    covered.stored(RUN, PipelineRunStatus(phase="Running", observed_sequence=5))  # an older read
    assert covered.covers(RUN, 7) and not covered.covers(RUN, 8)


def test_a_run_of_the_same_name_with_another_uid_starts_from_nothing() -> None:
    covered = Covered()
    covered.stored(RUN, PipelineRunStatus(phase="Running", observed_sequence=7))
    assert not covered.covers(("ns", "app-ci-1", "uid-2"), 3)


def test_a_terminal_status_covers_every_later_event() -> None:
    covered = Covered()
    covered.stored(RUN, PipelineRunStatus(phase="Succeeded", observed_sequence=15))
    assert covered.covers(RUN, 10**9)


def test_the_least_recently_used_run_is_forgotten() -> None:
    covered = Covered(size=2)
    runs = [("ns", f"r{i}", "u") for i in range(3)]
    covered.stored(runs[0], PipelineRunStatus(observed_sequence=1))
    covered.stored(runs[1], PipelineRunStatus(observed_sequence=1))
    covered.stored(runs[0], PipelineRunStatus(observed_sequence=2))  # used again: r1 is now the oldest
    covered.stored(runs[2], PipelineRunStatus(observed_sequence=1))
    assert len(covered) == 2
    assert covered.covers(runs[0], 2) and not covered.covers(runs[1], 1) and covered.covers(runs[2], 1)


def test_the_furthest_status_of_a_running_run_is_known_never_an_older_one() -> None:
    """The status kept to fold from is the furthest read or written, not the latest call's."""
    covered = Covered()
    assert covered.known(RUN) is None
    furthest = PipelineRunStatus(phase="Running", observed_sequence=7)
    covered.stored(RUN, furthest)
    covered.stored(RUN, PipelineRunStatus(phase="Pending", observed_sequence=5))
    assert covered.known(RUN) == furthest
    assert covered.known(("ns", "app-ci-1", "uid-2")) is None


def test_a_finished_run_keeps_no_status_to_fold_from() -> None:
    """A terminal status covers everything, so nothing is folded from it (and it is not kept)."""
    covered = Covered()
    covered.stored(RUN, PipelineRunStatus(phase="Running", observed_sequence=9))
    covered.stored(RUN, PipelineRunStatus(phase="Failed", observed_sequence=15))
    assert covered.known(RUN) is None and covered.covers(RUN, 16)


def test_a_forgotten_run_is_read_again() -> None:
    """After forget, neither coverage nor the status is assumed: the next event reads the store."""
    covered = Covered()
    covered.stored(RUN, PipelineRunStatus(phase="Running", observed_sequence=7))
    covered.forget(RUN)
    assert covered.known(RUN) is None and not covered.covers(RUN, 1) and len(covered) == 0
