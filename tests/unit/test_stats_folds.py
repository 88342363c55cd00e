"""The PipelineConfig stats fold and the RepositoryConnection lastEvent fold.

Covers: totalRuns/lastRun from accepted runs, successRate from finished ones, events of other
configs, sequence idempotency; lastEvent from accepted deliveries only, newest by event time.
"""

from __future__ import annotations

from api.repositoryconnection import RepositoryConnectionStatus
from events import run as ev
from events.webhook import WebhookAccepted, WebhookRejected
from projections import config_stats, connection_status
from tests.support.runs import CONFIG, accepted, at, ident


def finished(phase: ev.FinalPhase, config: str = CONFIG) -> ev.RunFinished:
    return ev.RunFinished(config=config, phase=phase, reason="x", **ident(9))


def test_stats_count_runs_and_success_rate() -> None:
    """Two accepted runs, one succeeded and one failed: totalRuns 2, successRate 0.5, lastRun latest."""
    history = [accepted("a", second=1), accepted("a", second=5), finished("Succeeded"), finished("Failed")]
    status = config_stats.Stats()
    for seq, event in enumerate(history, start=1):
        status = config_stats.evolve(status, seq, event, CONFIG)
    assert (status.total_runs, status.success_rate, status.last_run) == (2, 0.5, at(5))
    assert status.observed_sequence == 4


def test_stats_ignore_other_configs_and_redelivery() -> None:
    """Events of another config and redelivered sequences do not count."""
    status = config_stats.evolve(config_stats.Stats(), 1, accepted("a"), CONFIG)
    status = config_stats.evolve(status, 1, accepted("a"), CONFIG)
    status = config_stats.evolve(status, 2, finished("Succeeded", config="other"), CONFIG)
    assert (status.total_runs, status.success_rate, status.observed_sequence) == (1, None, 2)


def delivery(second: int, commit: str) -> WebhookAccepted:
    return WebhookAccepted(
        provider="github",
        delivery=f"d{second}",
        event="push",
        namespace="team-a",
        connection="c",
        repository="https://github.com/org/app",
        commit=commit,
        at=at(second),
    )


def test_last_event_is_the_newest_accepted_delivery() -> None:
    """lastEvent follows accepted deliveries by event time, whatever order they are folded in."""
    status = RepositoryConnectionStatus()
    status = connection_status.evolve(status, 1, delivery(5, "bbbbbbb"))
    status = connection_status.evolve(status, 2, delivery(3, "aaaaaaa"))
    assert status.last_event is not None
    assert (status.last_event.type, status.last_event.commit, status.last_event.timestamp) == (
        "push",
        "bbbbbbb",
        at(5),
    )


def test_rejected_delivery_does_not_move_last_event() -> None:
    """A rejected delivery advances the position only."""
    rejected = WebhookRejected(provider="github", delivery="d", status=401, reason="bad signature", at=at(1))
    status = connection_status.evolve(RepositoryConnectionStatus(), 1, rejected)
    assert (status.last_event, status.observed_sequence) == (None, 1)
