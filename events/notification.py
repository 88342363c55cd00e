"""The notification aggregate: what the notifier told the outside world about a run.

These events travel on the run's own subject (`c8s.run.<namespace>.<run>`), after the facts they
report, so `c8s events RUN` and outside subscribers see whether (and why not) a commit status or a
chat message went out. They are also the notifier's memory: a transition with a NotificationSent
or NotificationFailed in the run's history is never reported again (events.subjects gives each
(run uid, channel, transition) one Nats-Msg-Id). Folds of run status ignore them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypedDict

from events.run import RunEvent

#: Where a notification goes: the commit status on the git provider, or a chat webhook.
Channel = Literal["commit-status", "chat"]
#: Which moment of the run it reports: accepted (pending) or finished (the final phase).
Transition = Literal["pending", "finished"]


class NoticeFields(TypedDict):
    """The fields Sent and Failed share, to build either with `**fields`."""

    namespace: str
    run: str
    uid: str
    at: datetime
    channel: Channel
    transition: Transition
    target: str
    state: str
    context: str


class NotificationEvent(RunEvent, frozen=True, kw_only=True):
    channel: Channel
    transition: Transition
    #: The receiver: the provider (github, gitlab, bitbucket) or `slack`.
    target: str = ""
    #: The state as the receiver spells it (`success`, `failed`, `SUCCESSFUL`, ...).
    state: str = ""
    #: The status context (`c8s/<config>` plus matrix values); empty for chat.
    context: str = ""


class NotificationSent(NotificationEvent, frozen=True, kw_only=True, tag="notification.sent"):
    """The receiver accepted the notification (a 2xx answer)."""


class NotificationFailed(NotificationEvent, frozen=True, kw_only=True, tag="notification.failed"):
    """The notification cannot be delivered as made (bad token, unknown repository, refused body,
    no token in the secret); `status` is the receiver's HTTP status, 0 when no request was sent."""

    status: int
    reason: str
    message: str = ""


NotificationEvents = NotificationSent | NotificationFailed
