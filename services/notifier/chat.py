"""Chat notifications for finished runs: Slack-compatible incoming-webhook messages. Pure.

Configured per namespace by a Secret named `c8s-notifications` with keys `slack-webhook-url`
(an incoming-webhook URL: Slack, or anything that takes the same JSON, e.g. Mattermost) and
`slack-filter`: `failures` (the default: Failed runs only) or `all` (every finished run). The
message has a plain `text` (what notifications and old clients show) and `blocks` with the
outcome, the run, the commit and a link to the run.
"""

from __future__ import annotations

from typing import Literal

from msgspec import Struct

from api.secret import Secret
from events.run import RunFinished
from ports.http import HttpRequest
from services.notifier.credentials import secret_text

SECRET_NAME = "c8s-notifications"
URL_KEY = "slack-webhook-url"
FILTER_KEY = "slack-filter"
ChatFilter = Literal["failures", "all"]
_ICONS = {"Succeeded": ":white_check_mark:", "Failed": ":x:", "Cancelled": ":no_entry_sign:"}


class ChatSettings(Struct, frozen=True, kw_only=True):
    webhook_url: str
    filter: ChatFilter = "failures"


class ChatMessage(Struct, frozen=True, kw_only=True):
    """What a message says: the run, where it ran, how it ended, where to look."""

    namespace: str
    run: str
    context: str
    commit: str
    branch: str | None
    link: str


def chat_settings(secret: Secret) -> ChatSettings | None:
    """The namespace's chat settings, or None without a webhook URL (an unknown filter means
    the default, failures only: a typo should not flood a channel)."""
    url = secret_text(secret, URL_KEY)
    if not url:
        return None
    wanted = secret_text(secret, FILTER_KEY)
    return ChatSettings(webhook_url=url, filter="all" if wanted == "all" else "failures")


def wants(settings: ChatSettings, finished: RunFinished) -> bool:
    return settings.filter == "all" or finished.phase == "Failed"


def slack_request(settings: ChatSettings, message: ChatMessage, finished: RunFinished) -> HttpRequest:
    text = summary(message, finished)
    section = {"type": "section", "text": {"type": "mrkdwn", "text": _details(message, finished)}}
    body: dict[str, object] = {"text": text, "blocks": [section]}
    return HttpRequest(method="POST", url=settings.webhook_url, json=body)


def summary(message: ChatMessage, finished: RunFinished) -> str:
    where = f"{message.branch}@{message.commit[:7]}" if message.branch else message.commit[:7]
    return f"{message.context} {finished.phase.lower()} on {where} ({message.namespace}/{message.run})"


def _details(message: ChatMessage, finished: RunFinished) -> str:
    icon = _ICONS.get(finished.phase, "")
    head = f"{icon} *{message.context}* {finished.phase.lower()}"
    run = f"<{message.link}|{message.namespace}/{message.run}>" if message.link else message.run
    on_branch = f" on `{message.branch}`" if message.branch else ""
    lines = [head, f"Run {run} at `{message.commit[:12]}`{on_branch}"]
    if finished.message:
        lines.append(finished.message)
    return "\n".join(lines)
