"""The comment-command aggregate: `/retest` and `/cancel` written in a pull request's comments.

Two facts per command, each by its own producer:
- CommentCommand (the webhook): a verified comment on a pull request (GitLab: merge request) of a
  connected repository holds a command; what the payload says about the commenter and the pull
  request (its head commit when the provider sends it: GitLab and Bitbucket do, GitHub does not);
- CommentCommandDecided (the notifier, which holds the provider tokens): whether the commenter
  may write to the repository (asked of the provider's API), the pull request's head as the API
  gave it, and whether the command is honoured. The webhook acts on an honoured one (a run of the
  head commit through the webhook's own run-creation path, or a cancel of the PR's unfinished runs).

A comment is identified by the provider's comment id (one comment, one command, however often
it is delivered), which gives both facts their Nats-Msg-Id and the runs they start their names.
"""

from __future__ import annotations

from typing import Literal

from events.base import Event

Command = Literal["retest", "cancel"]
Verdict = Literal["accepted", "refused"]


class CommandEvent(Event, frozen=True, kw_only=True):
    """What both facts share: the comment (provider, id), where it applies and what it asks."""

    provider: str
    namespace: str
    connection: str
    comment_id: str
    command: Command
    #: The webhook delivery the comment came in (for tracing; the comment id is the identity).
    delivery: str = ""
    #: The repository as the provider names it (owner/repo, GitLab's full path).
    repository: str = ""
    #: The pull request's number (GitLab: the merge request's iid).
    number: int
    #: Who wrote the comment: the provider's login and, where the API needs it, the account's id
    #: (GitLab's numeric user id, Bitbucket's account uuid).
    commenter: str = ""
    commenter_id: str = ""
    #: The pull request's head and target, when known (empty: ask the provider).
    commit: str = ""
    branch: str = ""
    target_branch: str = ""
    source_repository: str = ""
    fork: bool = False


class CommentCommand(CommandEvent, frozen=True, kw_only=True, tag="comment.command"):
    """A verified pull request comment asks for `/retest` or `/cancel` (published by the webhook)."""


class CommentCommandDecided(CommandEvent, frozen=True, kw_only=True, tag="comment.decided"):
    """The notifier's answer: `accepted` when the commenter may write to the repository (and, for
    a retest, the head commit is known); `refused` with the reason otherwise."""

    verdict: Verdict
    reason: str = ""


CommandEvents = CommentCommand | CommentCommandDecided
