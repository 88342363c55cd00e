"""Who may do what on the bus: one NATS identity per c8s process, with the publish and subscribe
permissions that allow exactly what it produces and consumes (docs/security.md has the table).

Invariants:
- A fact is published only by its producer: run decisions by the scheduler, step start/finish and
  artifacts by the runner (local mode) or the job-watcher (Kubernetes mode), `log.shipped` and live
  lines by the log-shipper, notifications and comment-command decisions by the notifier, webhook
  decisions and comment commands by the webhook. Run
  event subjects end with the event type (events.subjects), so a subject permission is a per-type
  permission; a consumer refuses a body that is not on its own subject.
- Nobody but the scheduler may change a stream's or a bucket's configuration; nobody may delete or
  purge a stream or a KV bucket, or delete messages. Creating a missing stream or bucket is
  allowed to its users (an existing one is never replaced by a create).
- Durable consumers belong to one identity: every other identity is denied its create, fetch, delete
  and ack subjects, so nobody can steal, ack or reconfigure another process's deliveries.
- Replies reach each identity on its own inbox prefix `_INBOX.<user>` (nats-py's `inbox_prefix`);
  nobody may publish into an inbox.
- Steps get no identity at all: in both modes the server refuses connections without credentials.

`authorization_config` renders the nats-server `authorization` block; local mode writes it with the
generated passwords (c8s.dev.credentials), Kubernetes mode with `$VARIABLE` references that the
nats-server container reads from a Secret (deploy/400-nats.yaml).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

from msgspec import Struct

from adapters.jetstream.kv.objects import BUCKETS
from adapters.runtime.settings import Mode
from events.subjects import (
    LIVE_LOG_PREFIX,
    RUN_STREAM,
    WEBHOOK_STREAM,
    WEBHOOK_SUBJECTS,
    command_filter,
    token,
)

DELIVERIES_BUCKET = "c8s_deliveries"
PIPELINECONFIGS, PIPELINERUNS, CONNECTIONS, SECRETS = BUCKETS.values()
STREAMS = (RUN_STREAM, WEBHOOK_STREAM)
#: The only identity allowed to update a stream's configuration (replicas, dedupe window).
STREAM_MANAGER = "scheduler"
#: Durable consumers and their one owner.
DURABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "scheduler": ((RUN_STREAM, "scheduler"),),
    "runner": ((RUN_STREAM, "runner"),),
    "log-shipper": ((RUN_STREAM, "log-shipper"),),
    "notifier": ((RUN_STREAM, "notifier"), (WEBHOOK_STREAM, "notifier-commands")),
    "webhook": ((WEBHOOK_STREAM, "webhook-commands"),),
    "projector": (
        (RUN_STREAM, "projector-runs"),
        (RUN_STREAM, "projector-configs"),
        (WEBHOOK_STREAM, "projector-connections"),
    ),
}


class Permissions(Struct, frozen=True, kw_only=True):
    publish: tuple[str, ...] = ()
    subscribe: tuple[str, ...] = ()
    deny_publish: tuple[str, ...] = ()


def run_events(*types: str) -> tuple[str, ...]:
    """Publish rights on run events of these types (dotted tags; `run.>` is every run.* type)."""
    return tuple(f"c8s.run.*.*.{t}" for t in types)


def durable(stream: str, name: str) -> tuple[str, ...]:
    api = "$JS.API.CONSUMER"
    return (
        f"{api}.CREATE.{stream}.{name}",
        f"{api}.CREATE.{stream}.{name}.>",
        f"{api}.INFO.{stream}.{name}",
        f"{api}.MSG.NEXT.{stream}.{name}",
        f"$JS.ACK.{stream}.{name}.>",
    )


def replay(stream: str, filter_prefix: str = "") -> tuple[str, ...]:
    """Short-lived filtered consumers (history, `c8s events`, outside subscribers' own durables):
    created only with a filter under `filter_prefix` (the stream's subjects when empty)."""
    prefix = filter_prefix or {RUN_STREAM: "c8s.run", WEBHOOK_STREAM: WEBHOOK_SUBJECTS[:-2]}[stream]
    api = "$JS.API"
    return (
        f"{api}.STREAM.INFO.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}.*.{prefix}.>",
        f"{api}.CONSUMER.INFO.{stream}.*",
        f"{api}.CONSUMER.MSG.NEXT.{stream}.*",
        f"{api}.CONSUMER.DELETE.{stream}.*",
        f"$JS.ACK.{stream}.*.>",
    )


def next_reads(*streams: str) -> tuple[str, ...]:
    """Reads of one stored message by sequence (Bus.next_after: STREAM.MSG.GET with next_by_subj),
    for the folds that catch a subject up (ports.bus.unfolded). It reads any subject of the stream,
    so only services that read every run anyway get it, never a namespace's reader."""
    return tuple(f"$JS.API.STREAM.MSG.GET.{stream}" for stream in streams)


def kv_read(bucket: str) -> tuple[str, ...]:
    stream, api = f"KV_{bucket}", "$JS.API"
    return (
        f"{api}.DIRECT.GET.{stream}",
        f"{api}.DIRECT.GET.{stream}.>",
        f"{api}.STREAM.MSG.GET.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}",
        f"{api}.CONSUMER.CREATE.{stream}.>",
        f"{api}.CONSUMER.INFO.{stream}.*",
        f"{api}.CONSUMER.DELETE.{stream}.*",
        f"$JS.FC.{stream}.>",
    )


def kv_write(bucket: str) -> tuple[str, ...]:
    return (f"$KV.{bucket}.>", *kv_read(bucket))


def kv_bucket(bucket: str) -> tuple[str, ...]:
    """A bucket's info, and its creation when missing (a create never replaces an existing one)."""
    return (f"$JS.API.STREAM.INFO.KV_{bucket}", f"$JS.API.STREAM.CREATE.KV_{bucket}")


def streams_admin(mode: Mode, manager: bool) -> tuple[str, ...]:
    """Every service may read the streams' and buckets' info and create them when missing; only
    the stream manager may update a configuration (limits, replicas: adapters.jetstream.limits)."""
    buckets = (*(BUCKETS.values() if mode == "local" else ()), DELIVERIES_BUCKET)
    names = (*STREAMS, *(f"KV_{b}" for b in buckets))
    rights = [f"$JS.API.STREAM.{verb}.{name}" for name in names for verb in ("INFO", "CREATE")]
    return (*rights, *(f"$JS.API.STREAM.UPDATE.{name}" for name in names if manager))


def _service(mode: Mode, name: str, *rights: Iterable[str]) -> Permissions:
    owned = [s for stream, d in DURABLES.get(name, ()) for s in durable(stream, d)]
    publish = [*streams_admin(mode, name == STREAM_MANAGER), *owned]
    for group in rights:
        publish += group
    return Permissions(publish=tuple(dict.fromkeys(publish)))


def _kv(mode: Mode, *grants: tuple[str, ...]) -> tuple[str, ...]:
    """KV rights exist in local mode only (Kubernetes mode keeps resources in the apiserver)."""
    return tuple(s for g in grants for s in g) if mode == "local" else ()


def service_permissions(mode: Mode) -> dict[str, Permissions]:
    """The services of `mode` and what each may publish (subscriptions: its inbox only)."""
    step_facts = run_events("step.started", "step.finished", "artifact.uploaded")
    history = replay(RUN_STREAM)
    executor = "runner" if mode == "local" else "job-watcher"
    return {
        "scheduler": _service(
            mode,
            "scheduler",
            run_events("run.>", "step.scheduled", "step.skipped"),
            history,
            next_reads(RUN_STREAM),
            _kv(mode, kv_read(PIPELINERUNS), kv_read(PIPELINECONFIGS), kv_read(CONNECTIONS)),
        ),
        # The runner also reads runs, configs and connections: what a new run will check out
        # (services.runner.lookahead); the job-watcher reads no bucket (Kubernetes mode has none).
        executor: _service(
            mode,
            executor,
            step_facts,
            history,
            _kv(mode, *map(kv_read, (SECRETS, PIPELINERUNS, PIPELINECONFIGS, CONNECTIONS))),
        ),
        "log-shipper": _service(
            mode,
            "log-shipper",
            run_events("log.shipped"),
            (f"{LIVE_LOG_PREFIX}.>",),
            history,
            _kv(mode, kv_read(SECRETS)),
        ),
        "projector": _service(
            mode,
            "projector",
            history,
            next_reads(RUN_STREAM, WEBHOOK_STREAM),
            _kv(mode, kv_write(PIPELINERUNS), kv_write(PIPELINECONFIGS), kv_write(CONNECTIONS)),
        ),
        "notifier": _service(
            mode,
            "notifier",
            run_events("notification.>"),
            (command_filter("comment.decided"),),
            history,
            _kv(mode, kv_read(SECRETS), kv_write(CONNECTIONS)),
        ),
        "webhook": _service(
            mode,
            "webhook",
            (f"{WEBHOOK_SUBJECTS[:-2]}.*.*.*", command_filter("comment.command")),
            kv_write(DELIVERIES_BUCKET),
            _kv(mode, kv_write(PIPELINERUNS), *map(kv_read, (PIPELINECONFIGS, CONNECTIONS, SECRETS))),
        ),
        "dashboard": _dashboard(mode),
    }


def _dashboard(mode: Mode) -> Permissions:
    """The dashboard: run histories (replays of C8S_RUNS), every live log line, and in local mode
    the runs and configs it shows, PipelineRuns written for Cancel and Re-run; it publishes no event."""
    reads = _kv(mode, kv_write(PIPELINERUNS), kv_read(PIPELINECONFIGS))
    rights = _service(mode, "dashboard", replay(RUN_STREAM), reads)
    return Permissions(publish=rights.publish, subscribe=(f"{LIVE_LOG_PREFIX}.>",))


def cli_permissions(mode: Mode) -> Permissions:
    """The command line: reads every stream (events, logs -f) and, in local mode, the resource
    store it applies to; it publishes no event and manages no stream."""
    buckets = _kv(mode, *(kv_write(b) for b in BUCKETS.values()), *map(kv_bucket, BUCKETS.values()))
    publish = (*replay(RUN_STREAM), *replay(WEBHOOK_STREAM), *buckets)
    return Permissions(publish=publish, subscribe=(f"{LIVE_LOG_PREFIX}.>",))


def subscriber_permissions(namespace: str = "") -> Permissions:
    """An outside subscriber: its own consumers on C8S_RUNS (one namespace's events when
    `namespace` is given) and C8S_WEBHOOKS (all namespaces only); no live logs, no resources."""
    if namespace:
        return Permissions(publish=replay(RUN_STREAM, f"c8s.run.{token(namespace)}"))
    return Permissions(publish=(*replay(RUN_STREAM), *replay(WEBHOOK_STREAM)))


def identities(mode: Mode, team_readers: tuple[str, ...] = ()) -> dict[str, Permissions]:
    """Every identity of an instance in `mode`: the services, the CLI, the read-only subscriber,
    and a `reader-<namespace>` for each namespace in `team_readers` (its own events only)."""
    readers = {f"reader-{ns}": subscriber_permissions(ns) for ns in team_readers}
    return {
        **service_permissions(mode),
        "cli": cli_permissions(mode),
        "subscriber": subscriber_permissions(),
        **readers,
    }


def _denied_durables(user: str) -> tuple[str, ...]:
    """Other identities' durable consumers: never created, fetched, deleted or acked by `user`."""
    denied: list[str] = []
    for owner, durables in DURABLES.items():
        if owner != user:
            denied += [s for stream, name in durables for s in durable(stream, name)]
            verbs = ("DELETE", "DURABLE.CREATE")
            denied += [f"$JS.API.CONSUMER.{v}.{stream}.{name}" for stream, name in durables for v in verbs]
    return tuple(denied)


def user_entry(user: str, password: str, permissions: Permissions) -> dict[str, object]:
    return {
        "user": user,
        "password": password,
        "permissions": {
            "publish": {"allow": list(permissions.publish), "deny": list(_denied_durables(user))},
            "subscribe": {"allow": [f"_INBOX.{user}.>", *permissions.subscribe]},
        },
    }


def authorization_config(
    passwords: Mapping[str, str], mode: Mode, *, references: bool = False, team_readers: tuple[str, ...] = ()
) -> str:
    """The nats-server `authorization` block for `identities(mode, team_readers)`. With
    `references`, each password is the unquoted `$VARIABLE` named in `passwords` (read from the
    server's environment)."""
    users = []
    for user, permissions in identities(mode, team_readers).items():
        entry = json.dumps(user_entry(user, "@PASSWORD@", permissions), indent=2)
        password = passwords[user] if references else json.dumps(passwords[user])
        users.append(entry.replace('"@PASSWORD@"', password))
    return "authorization {\n  users: [\n" + ",\n".join(users) + "\n  ]\n}\n"
