"""The bus permission table (adapters.jetstream.permissions), read as NATS would match it.

Covers: every event type of the catalog may be published by exactly its producer in each mode
(run decisions by the scheduler, step facts by the runner or the job-watcher, log.shipped by the
log-shipper, notifications by the notifier, webhook decisions by the webhook; comment commands by
the webhook, their decisions by the notifier) and by nobody else
(the CLI and the subscribers publish no event); live log lines only by the log-shipper; each
durable consumer is usable by its owner only; nobody may delete or purge a stream, delete a
message or publish into an inbox; only the scheduler may update a stream's or bucket's configuration; every
identity subscribes to its own inbox prefix only; Kubernetes mode grants no resource-store bucket;
the dashboard reads run histories and writes PipelineRuns (local mode) and nothing else; reading a
stored message by sequence (next_after) is the scheduler's and the projector's only.
"""

from __future__ import annotations

import pytest

from adapters.jetstream.permissions import DURABLES, Permissions, durable, identities, user_entry
from adapters.runtime.settings import Mode
from events.codec import catalog
from events.command import CommandEvent
from events.run import RunEvent
from events.subjects import (
    command_subject,
    live_log_subject,
    run_event_subject,
    run_events_subjects,
    webhook_subject,
)

PRODUCERS = {
    "run.": "scheduler",
    "step.scheduled": "scheduler",
    "step.skipped": "scheduler",
    "step.started": "EXECUTOR",
    "step.finished": "EXECUTOR",
    "artifact.uploaded": "EXECUTOR",
    "log.shipped": "log-shipper",
    "notification.": "notifier",
    "webhook.": "webhook",
    "comment.command": "webhook",
    "comment.decided": "notifier",
}
RUN_EVENT_KINDS = [k for k in catalog() if issubclass(k, RunEvent)]


def matches(pattern: str, subject: str) -> bool:
    """NATS subject matching: `*` is one token, a final `>` one or more."""
    p, s = pattern.split("."), subject.split(".")
    for i, token in enumerate(p):
        if token == ">":
            return len(s) > i
        if i >= len(s) or (token != "*" and token != s[i]):
            return False
    return len(p) == len(s)


def may_publish(user: str, permissions: Permissions, subject: str) -> bool:
    entry = user_entry(user, "", permissions)["permissions"]
    assert isinstance(entry, dict)
    allowed = any(matches(p, subject) for p in entry["publish"]["allow"])
    return allowed and not any(matches(p, subject) for p in entry["publish"]["deny"])


def publishers(mode: Mode, subject: str) -> set[str]:
    return {u for u, p in identities(mode, ("team-a",)).items() if may_publish(u, p, subject)}


def producer_of(tag: str, mode: Mode) -> str:
    name = next(v for k, v in PRODUCERS.items() if tag == k or (k.endswith(".") and tag.startswith(k)))
    return name if name != "EXECUTOR" else ("runner" if mode == "local" else "job-watcher")


@pytest.mark.parametrize("mode", ["local", "kubernetes"])
@pytest.mark.parametrize("kind", catalog(), ids=lambda k: k.__struct_config__.tag)
def test_each_event_type_has_exactly_its_producer(mode: Mode, kind: type) -> None:
    """Only the producing service may publish an event type, on any namespace and run."""
    tag = kind.__struct_config__.tag
    if issubclass(kind, RunEvent):
        subject = run_event_subject("team-b", "app.1", tag)
    elif issubclass(kind, CommandEvent):
        subject = command_subject("github", "team-b", "repo", tag)
    else:
        subject = webhook_subject("github", "team-b", "repo")
    assert publishers(mode, subject) == {producer_of(tag, mode)}


@pytest.mark.parametrize("mode", ["local", "kubernetes"])
def test_live_log_lines_come_from_the_log_shipper_only(mode: Mode) -> None:
    """Live lines are published by the log-shipper; only it and the CLI touch them."""
    assert publishers(mode, live_log_subject("team-b", "r", "build")) == {"log-shipper"}


@pytest.mark.parametrize("mode", ["local", "kubernetes"])
def test_a_durable_consumer_is_its_owners_only(mode: Mode) -> None:
    """Create, fetch and ack subjects of a durable are publishable by its owner and nobody else."""
    for owner, owned in DURABLES.items():
        for stream, name in owned:
            for subject in durable(stream, name):
                concrete = subject.replace(">", "x.1.1.1.0")
                got = publishers(mode, concrete)
                assert got <= {owner} and (owner not in identities(mode) or owner in got), subject


@pytest.mark.parametrize("mode", ["local", "kubernetes"])
@pytest.mark.parametrize(
    "subject",
    [
        "$JS.API.STREAM.DELETE.C8S_RUNS",
        "$JS.API.STREAM.PURGE.C8S_RUNS",
        "$JS.API.STREAM.DELETE.KV_c8s_secrets",
        "$JS.API.STREAM.MSG.DELETE.C8S_RUNS",
        "_INBOX.scheduler.abc",
        "$JS.API.ACCOUNT.PURGE",
    ],
)
def test_nobody_may_destroy_history_or_answer_for_another(mode: Mode, subject: str) -> None:
    """Deleting, purging, deleting a message or forging a reply is nobody's right."""
    assert publishers(mode, subject) == set()


@pytest.mark.parametrize("mode", ["local", "kubernetes"])
def test_only_the_scheduler_updates_a_streams_configuration(mode: Mode) -> None:
    """STREAM.UPDATE of the streams and buckets (limits, replicas): the scheduler only."""
    assert publishers(mode, "$JS.API.STREAM.UPDATE.C8S_RUNS") == {"scheduler"}
    assert publishers(mode, "$JS.API.STREAM.UPDATE.C8S_WEBHOOKS") == {"scheduler"}
    assert publishers(mode, "$JS.API.STREAM.UPDATE.KV_c8s_deliveries") == {"scheduler"}


def test_every_identity_subscribes_to_its_own_inbox_only() -> None:
    """Replies are private: `_INBOX.<user>.>` and, for the CLI and the dashboard, live lines."""
    for user, permissions in identities("local", ("team-a",)).items():
        entry = user_entry(user, "", permissions)["permissions"]
        assert isinstance(entry, dict)
        extra = ["c8s.logs.>"] if user in ("cli", "dashboard") else []
        assert entry["subscribe"]["allow"] == [f"_INBOX.{user}.>", *extra]


def test_kubernetes_mode_grants_no_resource_bucket() -> None:
    """Resources live in the apiserver: no identity may touch the local store's KV buckets."""
    for user, permissions in identities("kubernetes").items():
        for bucket in ("c8s_pipelineruns", "c8s_secrets", "c8s_pipelineconfigs"):
            assert not may_publish(user, permissions, f"$KV.{bucket}.team-a.x")
            assert not may_publish(user, permissions, f"$JS.API.DIRECT.GET.KV_{bucket}")


@pytest.mark.parametrize("mode", ["local", "kubernetes"])
def test_next_after_reads_belong_to_the_folds_that_catch_up(mode: Mode) -> None:
    """STREAM.MSG.GET on the event streams (any subject) is the scheduler's and the projector's."""
    assert publishers(mode, "$JS.API.STREAM.MSG.GET.C8S_RUNS") == {"scheduler", "projector"}
    assert publishers(mode, "$JS.API.STREAM.MSG.GET.C8S_WEBHOOKS") == {"projector"}


def test_the_dashboard_reads_runs_and_writes_pipelineruns_only() -> None:
    """Local mode: run replays, PipelineRun writes (Cancel, Re-run), config reads; no other bucket."""
    permissions = identities("local")["dashboard"]
    assert may_publish("dashboard", permissions, "$JS.API.CONSUMER.CREATE.C8S_RUNS.h.c8s.run.a.r.>")
    assert may_publish("dashboard", permissions, "$KV.c8s_pipelineruns.team-a.r")
    assert may_publish("dashboard", permissions, "$JS.API.DIRECT.GET.KV_c8s_pipelineconfigs")
    assert not may_publish("dashboard", permissions, "$KV.c8s_pipelineconfigs.team-a.c")
    assert not may_publish("dashboard", permissions, "$JS.API.DIRECT.GET.KV_c8s_secrets")
    assert not may_publish("dashboard", permissions, "$JS.API.CONSUMER.CREATE.C8S_WEBHOOKS.h.c8s.webhook.>")


@pytest.mark.parametrize("kind", RUN_EVENT_KINDS, ids=lambda k: k.__name__)
def test_an_event_type_filter_takes_that_type_of_any_run_and_nothing_else(kind: type[RunEvent]) -> None:
    """events.subjects.run_events_subjects(kind) matches kind's subject for any namespace and run
    (names with dots included) and no other kind's."""
    [pattern] = run_events_subjects(kind)
    tag = kind.__struct_config__.tag
    for namespace, run in (("team-a", "app-1"), ("t.b", "r.2.x")):
        assert matches(pattern, run_event_subject(namespace, run, str(tag)))
        others = [k for k in RUN_EVENT_KINDS if k is not kind]
        assert not any(matches(pattern, run_event_subject(namespace, run, str(k.__struct_config__.tag)))
                       for k in others)
