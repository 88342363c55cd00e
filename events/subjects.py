"""Where each event travels and how its duplicates are recognised.

Run events go on `c8s.run.<namespace>.<run>.<type>` in stream C8S_RUNS (`<type>` is the event's
dotted tag, e.g. `c8s.run.team-a.app-1.step.finished`), so one run's history is the subject filter
`c8s.run.<namespace>.<run>.>` and the bus's per-identity publish permissions can say which service
may state which fact (adapters.jetstream.permissions). Webhook decisions go on
`c8s.webhook.<provider>.<namespace>.<connection>` in C8S_WEBHOOKS, and the comment commands
about a connection beside them, typed: `c8s.webhook.<provider>.<namespace>.<connection>.<type>`
(`comment.command` by the webhook, `comment.decided` by the notifier). A consumer trusts an event only
on the subject subject_of() gives it (`on_its_subject`): a body whose type, namespace or run differ
from its subject's was published by an identity allowed that subject, not that fact.
Every publish carries a Nats-Msg-Id derived from the event's identity (never from time or a random
value), so a redelivered handler or a restarted producer publishing the same fact again is dropped
by the stream's dedupe window.
"""

from __future__ import annotations

from events.codec import AnyEvent
from events.command import CommandEvent
from events.notification import NotificationEvent
from events.run import ArtifactUploaded, RunEvent, StepEvent
from events.webhook import WebhookAccepted, WebhookRejected

RUN_STREAM = "C8S_RUNS"
RUN_SUBJECTS = "c8s.run.>"
WEBHOOK_STREAM = "C8S_WEBHOOKS"
WEBHOOK_SUBJECTS = "c8s.webhook.>"
#: Core NATS (not persisted): live log lines for `c8s logs -f`.
LIVE_LOG_PREFIX = "c8s.logs"
_UNKNOWN = "_"


def token(name: str) -> str:
    """A Kubernetes name as one subject token. Names may hold '.', which NATS uses as separator;
    '_' never appears in Kubernetes names, so the mapping is reversible."""
    return name.replace(".", "_") if name else _UNKNOWN


def untoken(tok: str) -> str:
    return "" if tok == _UNKNOWN else tok.replace("_", ".")


def run_events_subjects(*kinds: type[RunEvent]) -> list[str]:
    """The filters of every event of `kinds` (e.g. StepStarted), whichever run: for a consumer that
    handles only those, so the others are neither delivered to it nor acknowledged by it."""
    return [run_event_subject("*", "*", _tag(kind)) for kind in kinds]


def _tag(kind: type[RunEvent]) -> str:
    tag = kind.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{kind.__name__} is not a tagged event")
    return tag


def run_subject(namespace: str, run: str) -> str:
    """The filter of one run's whole history (every event type)."""
    return f"c8s.run.{token(namespace)}.{token(run)}.>"


def namespace_runs_subject(namespace: str) -> str:
    """The filter of every run event of one namespace."""
    return f"c8s.run.{token(namespace)}.>"


def run_event_subject(namespace: str, run: str, event_type: str) -> str:
    """Where an event of `event_type` (a dotted tag such as `step.finished`) of one run goes."""
    return f"c8s.run.{token(namespace)}.{token(run)}.{event_type}"


def webhook_subject(provider: str, namespace: str, connection: str) -> str:
    return f"c8s.webhook.{token(provider)}.{token(namespace)}.{token(connection)}"


def connection_subject(namespace: str, connection: str) -> str:
    """Every webhook decision about one connection, whichever provider endpoint it came through."""
    return f"c8s.webhook.*.{token(namespace)}.{token(connection)}"


def command_subject(provider: str, namespace: str, connection: str, event_type: str) -> str:
    """Where a comment-command event of `event_type` about one connection goes."""
    return f"{webhook_subject(provider, namespace, connection)}.{event_type}"


def command_filter(event_type: str) -> str:
    """Every comment-command event of `event_type`, whichever connection."""
    return f"c8s.webhook.*.*.*.{event_type}"


def live_log_subject(namespace: str, run: str, step: str) -> str:
    return f"{LIVE_LOG_PREFIX}.{token(namespace)}.{token(run)}.{token(step)}"


def subject_of(event: AnyEvent) -> str:
    if isinstance(event, RunEvent):
        return run_event_subject(event.namespace, event.run, event.type)
    if isinstance(event, CommandEvent):
        return command_subject(event.provider, event.namespace, event.connection, event.type)
    return webhook_subject(event.provider, event.namespace, event.connection)


def on_its_subject(event: AnyEvent, subject: str) -> bool:
    """True when `subject` is where `event` belongs; anything else is refused before a fold."""
    return subject_of(event) == subject


def message_id(event: AnyEvent) -> str:
    """The identity of the fact: the same fact published twice gets the same id."""
    if isinstance(event, WebhookAccepted | WebhookRejected):
        return _webhook_message_id(event)
    if isinstance(event, CommandEvent):
        return ":".join(
            [event.provider, f"comment-{event.comment_id}", event.namespace, event.connection, event.type]
        )
    parts = [event.uid, event.type]
    if isinstance(event, StepEvent):
        parts.append(event.step)
    if isinstance(event, ArtifactUploaded):
        parts.append(event.path)
    if isinstance(event, NotificationEvent):
        parts += [event.channel, event.transition]
    return ":".join(parts)


def _webhook_message_id(event: WebhookAccepted | WebhookRejected) -> str:
    """One delivery may concern several connections (one repository connected in two namespaces)
    and get different decisions over time (401 until the secret is fixed, then accepted; accepted,
    then "duplicate delivery"): each (connection, decision) is its own fact."""
    parts = [event.provider, event.delivery, event.namespace, event.connection, event.type]
    if isinstance(event, WebhookRejected):
        parts.append(str(event.status))
    return ":".join(parts)
