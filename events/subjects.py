"""Where each event travels and how its duplicates are recognised.

Run events go on `c8s.run.<namespace>.<run>` in stream C8S_RUNS, so one run's history is a subject
filter. Webhook decisions go on `c8s.webhook.<provider>.<namespace>.<connection>` in C8S_WEBHOOKS.
Every publish carries a Nats-Msg-Id derived from the event's identity (never from time or a random
value), so a redelivered handler or a restarted producer publishing the same fact again is dropped
by the stream's dedupe window.
"""

from __future__ import annotations

from events.codec import AnyEvent
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


def run_subject(namespace: str, run: str) -> str:
    return f"c8s.run.{token(namespace)}.{token(run)}"


def namespace_runs_subject(namespace: str) -> str:
    return f"c8s.run.{token(namespace)}.*"


def webhook_subject(provider: str, namespace: str, connection: str) -> str:
    return f"c8s.webhook.{token(provider)}.{token(namespace)}.{token(connection)}"


def connection_subject(namespace: str, connection: str) -> str:
    """Every webhook decision about one connection, whichever provider endpoint it came through."""
    return f"c8s.webhook.*.{token(namespace)}.{token(connection)}"


def live_log_subject(namespace: str, run: str, step: str) -> str:
    return f"{LIVE_LOG_PREFIX}.{token(namespace)}.{token(run)}.{token(step)}"


def subject_of(event: AnyEvent) -> str:
    if isinstance(event, RunEvent):
        return run_subject(event.namespace, event.run)
    return webhook_subject(event.provider, event.namespace, event.connection)


def message_id(event: AnyEvent) -> str:
    """The identity of the fact: the same fact published twice gets the same id."""
    if isinstance(event, WebhookAccepted | WebhookRejected):
        return _webhook_message_id(event)
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
